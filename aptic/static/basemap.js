// When the basemap tiles cannot be loaded (no internet, filtering proxy), say so once per map:
// the markers and choropleths stay, and the list of results is the full alternative.
(function () {
  if (!window.L || !L.TileLayer) { return; }
  L.TileLayer.addInitHook(function () {
    this.on("tileerror", function () {
      var map = this._map;
      if (!map || map._apticTileNotice) { return; }
      map._apticTileNotice = true;
      var notice = document.createElement("p");
      notice.className = "basemap-notice";
      notice.setAttribute("role", "status");
      notice.textContent = "Le fond de carte n'a pas pu être chargé : les lieux restent affichés sur la carte, et la liste des résultats les donne tous.";
      map.getContainer().appendChild(notice);
    });
  });
}());

// The platform's own boundaries (départements, communes when zoomed in), drawn under everything
// else from /api/v1/map/boundaries: with no tiles at all the map still shows where things are.
// The box asked for is snapped to the server's grid, so panning asks again for the same URLs.
(function () {
  if (!window.L) { return; }
  window.apticBoundaries = function (map, options) {
    var pane = map.createPane("apticBoundaries");
    pane.style.zIndex = 350;
    pane.style.pointerEvents = "none";
    var layer = L.geoJSON(null, {
      pane: "apticBoundaries",
      renderer: L.svg({ pane: "apticBoundaries" }),
      interactive: false,
      style: function (feature) {
        return feature.properties.niveau === "commune"
          ? { color: "#8c8c8c", weight: 0.7, fill: false }
          : { color: "#5c5c5c", weight: 1.2, fill: false };
      }
    }).addTo(map);
    var cache = {};
    var current = null;

    function url() {
      var zoom = Math.max(0, Math.min(18, Math.round(map.getZoom())));
      var query = "?zoom=" + zoom;
      if (zoom > options.wholeMaxZoom) {
        var cell = 360 / Math.pow(2, zoom);
        var b = map.getBounds();
        var box = [
          Math.max(-180, Math.floor(b.getWest() / cell) * cell), Math.max(-90, Math.floor(b.getSouth() / cell) * cell),
          Math.min(180, Math.ceil(b.getEast() / cell) * cell), Math.min(90, Math.ceil(b.getNorth() / cell) * cell)
        ];
        if (box[0] < box[2] && box[1] < box[3]) { query += "&bbox=" + box.join(","); }
      }
      return options.url + query;
    }

    function show(address, data) {
      if (address !== current) { return; }
      layer.clearLayers();
      layer.addData(data);
    }

    function refresh() {
      var address = url();
      if (address === current) { return; }
      current = address;
      if (cache[address]) { show(address, cache[address]); return; }
      fetch(address, { headers: { Accept: "application/geo+json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.json();
        })
        .then(function (data) { cache[address] = data; show(address, data); })
        .catch(function () {});
    }

    map.on("moveend", refresh);
    map.whenReady(refresh);
  };
}());
