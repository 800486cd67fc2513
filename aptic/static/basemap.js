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
