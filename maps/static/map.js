/* Public map of APTIC venues: bubbles per région / département at low zoom, then the visible area
   fetched as GeoJSON: the server's clusters while it holds many venues (a click or Enter zooms into
   one), the venues themselves (clustered here) at street level. Called by the folium map. */
(function () {
  "use strict";

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  var numbers = new Intl.NumberFormat("fr-FR");
  // Zooming into a cluster frames its venues, but never closer than this street level.
  var GROUP_MAX_ZOOM = 16;

  function venueCount(count) {
    return numbers.format(count) + (count > 1 ? " lieux" : " lieu");
  }

  // Leaflet's keyboard markers get focus and the role of a button, but Enter and Space only reach them as
  // keypress events: both act like a click.
  function onActivate(marker, action) {
    marker.on("click", action);
    marker.on("keypress", function (event) {
      var key = event.originalEvent.key;
      if (key === "Enter" || key === " ") {
        event.originalEvent.preventDefault();
        action();
      }
    });
  }

  function venueMarker(feature, latlng) {
    var p = feature.properties;
    return L.marker(latlng, { title: p.nom, alt: p.nom })
      .bindPopup('<a href="' + escapeHtml(p.url) + '">' + escapeHtml(p.nom) + "</a><br>" + escapeHtml(p.commune));
  }

  window.apticMap = function (map, cluster, options) {
    var bubbles = L.layerGroup().addTo(map);
    var groups = L.layerGroup().addTo(map);
    var countsCache = {};
    var pending = null;
    var status = document.getElementById("map-status");

    function announce(text) {
      if (status) { status.textContent = text; }
    }

    function load(url) {
      pending = new AbortController();
      return fetch(url, { signal: pending.signal, headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.json();
        });
    }

    function clear() {
      bubbles.clearLayers();
      groups.clearLayers();
      cluster.clearLayers();
    }

    function showBubbles(level, items) {
      clear();
      var max = Math.max.apply(null, items.map(function (i) { return i.lieux; }).concat([1]));
      items.forEach(function (item) {
        var size = Math.round(28 + 36 * Math.sqrt(item.lieux / max));
        var label = item.nom + " : " + item.lieux + " lieu" + (item.lieux > 1 ? "x" : "");
        var marker = L.marker([item.lat, item.lon], {
          title: label,
          alt: label,
          keyboard: true,
          icon: L.divIcon({
            className: "aptic-bubble aptic-bubble-" + level,
            html: "<span>" + item.lieux + "</span>",
            iconSize: [size, size]
          })
        });
        onActivate(marker, function () {
          map.setView([item.lat, item.lon], level === "region" ? options.regionMaxZoom + 1 : options.departementMaxZoom + 1);
        });
        bubbles.addLayer(marker);
      });
      announce(items.length + (level === "region" ? " régions" : " départements") + " affichés sur la carte.");
    }

    function showVenues(collection) {
      clear();
      cluster.addLayer(L.geoJSON(collection, { pointToLayer: venueMarker }));
      announce(venueCount(collection.total) + " dans la zone affichée.");
    }

    function showGroups(collection) {
      clear();
      var shown = 0, alone = 0;
      collection.features.forEach(function (feature) {
        var point = feature.geometry.coordinates;
        var latlng = L.latLng(point[1], point[0]);
        if (!feature.bbox) { groups.addLayer(venueMarker(feature, latlng)); alone += 1; return; }
        var count = feature.properties.lieux;
        var label = venueCount(count) + " : zoomer sur ce groupe";
        var size = Math.round(30 + 8 * Math.log(count) / Math.LN10);
        var marker = L.marker(latlng, {
          title: label,
          keyboard: true,
          icon: L.divIcon({
            className: "aptic-cluster",
            html: '<span aria-hidden="true">' + numbers.format(count) + "</span>",
            iconSize: [size, size]
          })
        });
        marker.on("add", function () { marker.getElement().setAttribute("aria-label", label); });
        onActivate(marker, function () {
          var box = feature.bbox;
          map.fitBounds([[box[1], box[0]], [box[3], box[2]]],
                        { padding: [24, 24], maxZoom: Math.max(map.getZoom() + 1, GROUP_MAX_ZOOM) });
        });
        groups.addLayer(marker);
        shown += 1;
      });
      announce(venueCount(collection.total) + " dans la zone affichée : " + numbers.format(shown) + " groupe" +
        (shown > 1 ? "s" : "") + (alone ? " et " + numbers.format(alone) + " lieu" + (alone > 1 ? "x" : "") +
        " seul" + (alone > 1 ? "s" : "") : "") + " ; choisissez un groupe pour zoomer.");
    }

    function refresh() {
      if (pending) { pending.abort(); pending = null; }
      var zoom = map.getZoom();
      if (zoom <= options.departementMaxZoom) {
        var level = zoom <= options.regionMaxZoom ? "region" : "departement";
        if (countsCache[level]) { showBubbles(level, countsCache[level]); return; }
        load(options.countsUrl + "?level=" + level).then(function (data) {
          countsCache[level] = data.territoires;
          showBubbles(level, data.territoires);
        }).catch(function () {});
        return;
      }
      var separator = options.venuesUrl.indexOf("?") >= 0 ? "&" : "?";
      load(options.venuesUrl + separator + "bbox=" + map.getBounds().toBBoxString() + "&zoom=" + zoom)
        .then(function (collection) {
          (collection.contenu === "groupes" ? showGroups : showVenues)(collection);
        })
        .catch(function () {});
    }

    map.on("moveend", refresh);
    refresh();
  };
})();
