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
// apticChoropleth colours the outlines of one level with figures the page carries.
(function () {
  if (!window.L) { return; }

  function boundaryQuery(map, wholeMaxZoom) {
    var zoom = Math.max(0, Math.min(18, Math.round(map.getZoom())));
    var query = "?zoom=" + zoom;
    if (zoom > wholeMaxZoom) {
      var cell = 360 / Math.pow(2, zoom);
      var b = map.getBounds();
      var box = [
        Math.max(-180, Math.floor(b.getWest() / cell) * cell), Math.max(-90, Math.floor(b.getSouth() / cell) * cell),
        Math.min(180, Math.ceil(b.getEast() / cell) * cell), Math.min(90, Math.ceil(b.getNorth() / cell) * cell)
      ];
      if (box[0] < box[2] && box[1] < box[3]) { query += "&bbox=" + box.join(","); }
    }
    return query;
  }

  var cache = {};
  function getJson(address) {
    if (!cache[address]) {
      cache[address] = fetch(address, { headers: { Accept: "application/geo+json" } }).then(function (response) {
        if (!response.ok) { delete cache[address]; throw new Error(response.status); }
        return response.json();
      });
    }
    return cache[address];
  }

  // Redraw `layer` with what `addresses()` answer whenever the view changes (latest view wins).
  function follow(map, layer, addresses) {
    var current = null;
    function refresh() {
      var wanted = addresses();
      var key = wanted.join(" ");
      if (key === current) { return; }
      current = key;
      Promise.all(wanted.map(getJson)).then(function (collections) {
        if (key !== current) { return; }
        layer.clearLayers();
        collections.forEach(function (data) { layer.addData(data); });
      }).catch(function () {});
    }
    map.on("moveend", refresh);
    map.whenReady(refresh);
  }

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
    follow(map, layer, function () { return [options.url + boundaryQuery(map, options.wholeMaxZoom)]; });
  };

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function colour(spec, value) {
    if (value === null || value === undefined) { return "#cccccc"; }
    for (var i = spec.colours.length - 1; i >= 0; i--) {
      if (value >= spec.index[i]) { return spec.colours[i]; }
    }
    return spec.colours[0];
  }

  window.apticChoropleth = function (map, options) {
    var figures = options.figures;
    var fields = options.tooltip;
    var layers = {};
    function figureOf(feature) { return figures[feature.properties.niveau + ":" + feature.properties.code]; }
    options.layers.forEach(function (spec, position) {
      var layer = L.geoJSON(null, {
        filter: function (feature) { return !!figureOf(feature); },
        style: function (feature) {
          return { fillColor: colour(spec, figureOf(feature)[spec.key]), color: "#555555", weight: 0.4, fillOpacity: 0.75 };
        },
        onEachFeature: function (feature, shape) {
          var figure = figureOf(feature);
          shape.bindTooltip(fields.map(function (field) {
            return "<b>" + escapeHtml(field[1]) + "</b> : " + escapeHtml(figure[field[0]] === null ? "—" : figure[field[0]]);
          }).join("<br>"), { sticky: true });
        }
      });
      layers[spec.name] = layer;
      if (position === 0) { layer.addTo(map); }
      follow(map, layer, function () {
        var query = boundaryQuery(map, options.wholeMaxZoom);
        var wanted = [options.url + query + "&level=" + options.level];
        if (options.extraCodes.length) {
          wanted.push(options.url + query.split("&bbox=")[0] + "&level=commune&codes=" + options.extraCodes.join(","));
        }
        return wanted;
      });
    });
    if (options.layers.length > 1) { L.control.layers(layers, null, { collapsed: false }).addTo(map); }
  };
}());
