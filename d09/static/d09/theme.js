/*
 * Light or dark, as the reader's system says (Bootstrap 5.3 colour modes).
 * Loaded in <head> before the style sheets, so the page never flashes the other
 * theme; it follows the system when that changes while the page is open.
 */
(function () {
  "use strict";

  var dark = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function apply() {
    document.documentElement.setAttribute("data-bs-theme", dark && dark.matches ? "dark" : "light");
  }

  apply();
  if (dark && dark.addEventListener) {
    dark.addEventListener("change", apply);
  }
})();
