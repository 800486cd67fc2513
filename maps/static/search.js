/* The home search box: an ARIA 1.2 combobox (list autocomplete) over the platform's own
   /api/v1/adresses, and the "Autour de moi" button (the browser's position, with permission).
   Progressive enhancement: without this script the box is a plain search field. No inline handlers (CSP). */
(function () {
  "use strict";

  var input = document.getElementById("q");
  var form = document.getElementById("search-form");
  if (!input || !form) { return; }
  var lat = document.getElementById("search-lat");
  var lon = document.getElementById("search-lon");
  var status = document.getElementById("search-status");
  var url = input.getAttribute("data-suggestions-url");
  var listbox = document.createElement("ul");
  var items = [];
  var active = -1;
  var timer = null;
  var pending = null;
  var cache = {};

  function say(text) { if (status) { status.textContent = text; } }

  function setPoint(point) {
    [[lat, point && point.lat], [lon, point && point.lon]].forEach(function (pair) {
      if (!pair[0]) { return; }
      pair[0].value = point ? String(pair[1]) : "";
      pair[0].disabled = !point;
    });
  }

  // ---------------------------------------------------------------- combobox
  listbox.id = "q-listbox";
  listbox.className = "suggestions";
  listbox.setAttribute("role", "listbox");
  listbox.setAttribute("aria-label", "Suggestions");
  listbox.hidden = true;
  input.parentNode.appendChild(listbox);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listbox.id);
  input.setAttribute("autocomplete", "off");

  function close() {
    listbox.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function highlight(index) {
    var options = listbox.querySelectorAll("[role=option]");
    active = index;
    options.forEach(function (option, i) { option.setAttribute("aria-selected", i === index ? "true" : "false"); });
    if (index >= 0 && options[index]) {
      input.setAttribute("aria-activedescendant", options[index].id);
      options[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(index) {
    var item = items[index];
    if (!item) { return; }
    input.value = item.libelle;
    // An address comes with its point: the search will not ask the geocoder again.
    setPoint(item.type === "adresse" ? item : null);
    close();
    say(item.libelle + " choisi. Validez pour rechercher.");
    input.focus();
  }

  function show(data) {
    items = data.suggestions || [];
    listbox.textContent = "";
    items.forEach(function (item, i) {
      var option = document.createElement("li");
      option.id = "q-option-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.className = "suggestion suggestion-" + item.type;
      option.textContent = item.libelle;
      if (item.detail) {
        var detail = document.createElement("span");
        detail.className = "suggestion-detail";
        detail.textContent = " " + item.detail;
        option.appendChild(detail);
      }
      option.addEventListener("mousedown", function (event) { event.preventDefault(); choose(i); });
      listbox.appendChild(option);
    });
    if (items.length) {
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
      active = -1;
    } else {
      close();
    }
    var count = items.length;
    say((data.avertissement ? data.avertissement + " " : "") +
        (count ? count + (count > 1 ? " suggestions" : " suggestion") + " : flèches haut et bas pour choisir." : ""));
  }

  function suggest() {
    var text = input.value.trim();
    if (text.length < 2 || !url) { close(); return; }
    if (cache[text]) { show(cache[text]); return; }
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(url + "?q=" + encodeURIComponent(text), { signal: pending.signal, headers: { Accept: "application/json" } })
      .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
      .then(function (data) {
        cache[text] = data;
        if (input.value.trim() === text) { show(data); }
      })
      .catch(function () { /* suggestions are a help: the search itself still works */ });
  }

  input.addEventListener("input", function () {
    setPoint(null);  // a new text is a new place
    clearTimeout(timer);
    timer = setTimeout(suggest, 200);
  });

  input.addEventListener("keydown", function (event) {
    var open = !listbox.hidden;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      if (!open) { suggest(); return; }
      highlight(active + 1 >= items.length ? 0 : active + 1);
    } else if (event.key === "ArrowUp") {
      if (!open) { return; }
      event.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (event.key === "Enter") {
      if (open && active >= 0) { event.preventDefault(); choose(active); }
    } else if (event.key === "Escape") {
      if (open) { event.preventDefault(); close(); } else { input.value = ""; setPoint(null); }
    } else if (event.key === "Tab") {
      close();
    }
  });

  input.addEventListener("blur", function () { setTimeout(close, 100); });

  // ------------------------------------------------------------ autour de moi
  var nearMe = document.getElementById("near-me");
  if (nearMe && "geolocation" in navigator) {
    nearMe.hidden = false;
    nearMe.addEventListener("click", function () {
      nearMe.disabled = true;
      say("Recherche de votre position…");
      navigator.geolocation.getCurrentPosition(function (position) {
        setPoint({ lat: position.coords.latitude.toFixed(5), lon: position.coords.longitude.toFixed(5) });
        input.value = "votre position";
        form.submit();
      }, function () {
        nearMe.disabled = false;
        say("Votre position n'est pas disponible (refusée ou introuvable) : indiquez une commune ou une adresse.");
      }, { enableHighAccuracy: false, timeout: 15000, maximumAge: 300000 });
    });
  }
})();
