// When the basemap tiles cannot be loaded (no internet, filtering proxy), say so once per map:
// the platform's own boundaries and markers stay, and the list below the map is the full alternative.
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
      notice.textContent = "Le fond de carte n'a pas pu être chargé : les limites des territoires et les lieux restent affichés, et la liste ci-dessous donne tous les résultats.";
      map.getContainer().appendChild(notice);
    });
  });
}());
