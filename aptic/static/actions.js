// Behaviour the pages declare with data attributes, since the Content-Security-Policy refuses inline handlers.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
// A page that answers a request (search results) moves the focus, and so the screen, to its answer.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector("[data-focus-on-load]");
  if (target) { target.focus(); }
});
