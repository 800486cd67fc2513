// Behaviour the pages declare with data attributes, since the Content-Security-Policy refuses inline handlers.
document.addEventListener("click", function (event) {
  if (event.target.closest("[data-print]")) { window.print(); }
});
// A page that answers a request (search results) moves the focus, and so the screen, to its answer.
document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector("[data-focus-on-load]");
  if (target) { target.focus(); }
});
// A box that scrolls sideways (a wide table on a phone) takes the keyboard focus, so it can be scrolled
// without a mouse.
function apticFocusableScrollers() {
  document.querySelectorAll("main table, main pre, main .scroll-box").forEach(function (box) {
    if (box.scrollWidth > box.clientWidth + 1 && getComputedStyle(box).overflowX !== "visible") {
      if (!box.hasAttribute("tabindex")) { box.setAttribute("tabindex", "0"); box.dataset.scrollFocus = "1"; }
    } else if (box.dataset.scrollFocus) {
      box.removeAttribute("tabindex"); delete box.dataset.scrollFocus;
    }
  });
}
document.addEventListener("DOMContentLoaded", apticFocusableScrollers);
window.addEventListener("resize", apticFocusableScrollers);
