// Scanning through network cuts. When the browser is offline, a scan is not sent: its codes are checked
// here (length, alphabet, ISO 7064 MOD 29-2 check character, as the server does), then it is queued in
// IndexedDB with an idempotency key and shown "en attente". When the network is back, each queued
// delivery is sent to POST /api/v1/redemptions with its key: a delivery the server already took answers
// with the original redemption, never a second one; each item ends accepted or refused with the reason.
(function () {
  "use strict";
  var form = document.getElementById("scan-form");
  if (!form || !window.indexedDB || !window.fetch || !window.Promise) { return; }
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(form.dataset.serviceWorker, {scope: form.dataset.scope}).catch(function () {});
  }
  var alphabet = form.dataset.alphabet, length = Number(form.dataset.length);
  var section = document.getElementById("offline-queue"), list = document.getElementById("offline-items");
  var status = document.getElementById("offline-status"), codeError = document.getElementById("code-error");
  var code = document.getElementById("code"), code2 = document.getElementById("code2");
  var two = document.getElementById("two"), service = document.getElementById("service");
  var venue = form.querySelector("[name=venue_id]");
  var euros = new Intl.NumberFormat("fr-FR", {style: "currency", currency: "EUR"});
  var flushing = false;

  function compact(value) {
    var text = (value || "").replace(/[\s\-\u2013.]+/g, "").toUpperCase();
    if (text.length !== length) { return null; }
    var check = 0;
    for (var i = 0; i < text.length; i++) {
      var index = alphabet.indexOf(text[i]);
      if (index < 0) { return null; }
      check = (2 * check + index) % alphabet.length;
    }
    return check === 1 ? text : null;
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function store(mode) {
    return new Promise(function (resolve, reject) {
      var opening = indexedDB.open("aptic-scan", 1);
      opening.onupgradeneeded = function () { opening.result.createObjectStore("deliveries", {keyPath: "key"}); };
      opening.onerror = function () { reject(opening.error); };
      opening.onsuccess = function () {
        resolve(opening.result.transaction("deliveries", mode).objectStore("deliveries"));
      };
    });
  }

  function request(call) {
    return new Promise(function (resolve, reject) { call.onsuccess = function () { resolve(call.result); };
                                                    call.onerror = function () { reject(call.error); }; });
  }

  function allItems() {
    return store("readonly").then(function (s) { return request(s.getAll()); }).then(function (items) {
      return items.sort(function (a, b) { return a.queuedAt - b.queuedAt; });
    });
  }

  function save(item) { return store("readwrite").then(function (s) { return request(s.put(item)); }); }

  function render() {
    return allItems().then(function (items) {
      section.hidden = items.length === 0;
      list.textContent = "";
      var pending = 0;
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.dataset.key = item.key;
        li.dataset.state = item.state;
        var codes = item.codes.join(" + ");
        if (item.state === "pending") {
          pending++;
          li.textContent = "⏳ En attente : " + codes + " (" + item.serviceLabel + ")";
        } else if (item.state === "accepted") {
          li.textContent = "✔ Accepté : " + codes + ", " + euros.format(item.amountCents / 100);
        } else {
          li.dataset.code = item.errorCode;
          li.textContent = "✖ Refusé : " + codes + " — " + item.message;
        }
        list.appendChild(li);
      });
      status.textContent = pending
        ? pending + (pending > 1 ? " scans attendent" : " scan attend") + " le retour du réseau : ne les rescannez pas."
        : "Tous les scans mis en attente ont reçu une réponse.";
    });
  }

  function freshToken() {
    return fetch(form.dataset.page, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
      if (!response.ok) { throw new Error("page"); }
      return response.text();
    }).then(function (html) {
      var input = new DOMParser().parseFromString(html, "text/html").querySelector("input[name=csrf_token]");
      if (!input) { throw new Error("token"); }
      return input.value;
    });
  }

  function send(item, token) {
    return fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
      body: JSON.stringify({codes: item.codes, service: item.service, venue_id: Number(item.venueId),
                            idempotency_key: item.key})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.status === 200 || response.status === 201) {
          item.state = "accepted";
          item.amountCents = body.amount_cents;
        } else if (response.status >= 400 && response.status < 500 && response.status !== 429 && body.error
                   && body.error.code !== "csrf_failed" && body.error.code !== "unauthenticated") {
          item.state = "refused";
          item.errorCode = body.error.code;
          item.message = body.error.message;
        } else {
          throw new Error("later");  // saturated, signed out, expired form: try again later
        }
        return save(item);
      });
    });
  }

  function flush() {
    if (flushing || !navigator.onLine) { return Promise.resolve(); }
    flushing = true;
    return allItems().then(function (items) {
      var pending = items.filter(function (item) { return item.state === "pending"; });
      if (!pending.length) { return null; }
      return freshToken().then(function (token) {
        return pending.reduce(function (chain, item) {
          return chain.then(function () { return send(item, token); });
        }, Promise.resolve());
      });
    }).catch(function () { /* still offline or refused for now: the next attempt will tell */ })
      .then(render).then(function () { flushing = false; }, function () { flushing = false; });
  }

  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented || navigator.onLine) { return; }
    event.preventDefault();
    var raw = [code.value].concat(two.checked && code2.value ? [code2.value] : []);
    var codes = raw.map(compact);
    var wrong = codes.indexOf(null);
    if (wrong >= 0) {
      codeError.textContent = "Le code « " + raw[wrong] + " » n'est pas un code de chèque valide : vérifiez la saisie.";
      (wrong === 0 ? code : code2).focus();
      return;
    }
    codeError.textContent = "";
    // Cleared now, not once saved: a handheld scanner may already be typing the next code.
    code.value = "";
    code2.value = "";
    code.focus();
    save({key: newKey(), venueId: venue.value, service: service.value, codes: codes, state: "pending",
          serviceLabel: service.options[service.selectedIndex].text, queuedAt: Date.now()}).then(render);
  });

  window.addEventListener("online", flush);
  window.setInterval(flush, 30000);
  render().then(flush);
})();
