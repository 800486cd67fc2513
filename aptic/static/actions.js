// Behaviour the pages declare with data attributes, since the Content-Security-Policy refuses inline handlers.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
