// Service worker of the scan page: the page and its scripts and styles come from the network when it
// answers, else from the copy kept at the last visit, so a venue can keep scanning through a network cut
// (the page then queues its scans, see scan-offline.js). Nothing but GET requests of this origin for the
// scan page and static files goes through it; sending a scan always goes to the network.
"use strict";
var CACHE = "aptic-scan-v1";
var SCAN_PAGE = "/pass/scanner";

// Kept at once, so that the very visit that installs the worker already leaves a copy to open offline.
var FIRST_COPY = [SCAN_PAGE, "/static/aptic/aptic.css", "/static/aptic/actions.js", "/static/pass/scan-offline.js"];

self.addEventListener("install", function (event) {
  self.skipWaiting();
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(FIRST_COPY.map(function (path) {
      return fetch(path, {credentials: "same-origin"}).then(function (response) {
        return response.ok && !response.redirected ? cache.put(path, response) : null;
      }).catch(function () { return null; });
    }));
  }));
});
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function cacheKey(url) {
  return url.pathname === SCAN_PAGE ? SCAN_PAGE : url.pathname + url.search;
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) { return; }
  if (url.pathname !== SCAN_PAGE && url.pathname.indexOf("/static/") !== 0) { return; }
  var key = cacheKey(url);
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(key, copy); }));
    }
    return response;
  }).catch(function () {
    return caches.match(key).then(function (kept) {
      return kept || new Response("Hors ligne : cette page n'a pas encore été ouverte sur ce poste avec le réseau.",
                                  {status: 503, headers: {"Content-Type": "text/plain; charset=utf-8"}});
    });
  }));
});
