/* Public map of APTIC venues: bubbles per région / département at low zoom, clustered venue
   markers fetched as GeoJSON for the visible area at street level. Called by the folium map. */
(function () {
  "use strict";

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  window.apticMap = function (map, cluster, options) {
    var bubbles = L.layerGroup().addTo(map);
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

    function showBubbles(level, items) {
      cluster.clearLayers();
      bubbles.clearLayers();
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
        marker.on("click", function () {
          map.setView([item.lat, item.lon], level === "region" ? options.regionMaxZoom + 1 : options.departementMaxZoom + 1);
        });
        bubbles.addLayer(marker);
      });
      announce(items.length + (level === "region" ? " régions" : " départements") + " affichés sur la carte.");
    }

    function showVenues(collection) {
      bubbles.clearLayers();
      cluster.clearLayers();
      var layer = L.geoJSON(collection, {
        pointToLayer: function (feature, latlng) {
          return L.marker(latlng, { title: feature.properties.nom, alt: feature.properties.nom });
        },
        onEachFeature: function (feature, marker) {
          var p = feature.properties;
          marker.bindPopup('<a href="' + escapeHtml(p.url) + '">' + escapeHtml(p.nom) + "</a><br>" + escapeHtml(p.commune));
        }
      });
      cluster.addLayer(layer);
      var count = collection.features.length;
      announce(count + " lieu" + (count > 1 ? "x" : "") + " dans la zone affichée" +
        (collection.tronque ? " (zone trop vaste : tous ne sont pas affichés)." : "."));
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
      load(options.venuesUrl + separator + "bbox=" + map.getBounds().toBBoxString())
        .then(showVenues)
        .catch(function () {});
    }

    map.on("moveend", refresh);
    refresh();
  };
})();
