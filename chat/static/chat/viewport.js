/*
 * Phones: the room is as tall as what the reader can see. When the on-screen
 * keyboard opens, the visual viewport shrinks (the layout viewport often does
 * not), so its height becomes --chat-viewport-height, which chat.css gives the
 * page on narrow screens: the composer stays above the keyboard and the
 * message box takes what is left.
 */
(function ($) {
  "use strict";

  var viewport = window.visualViewport;
  if (!viewport || !$("#chat").length) {
    return;
  }
  var narrow = window.matchMedia("(max-width: 767.98px)");  // Bootstrap's "below md", as chat.css

  function fit() {
    document.documentElement.style.setProperty("--chat-viewport-height", viewport.height + "px");
    // Some browsers scroll the page to show the focused input: there it fits, so undo that.
    if (narrow.matches && window.scrollY) {
      window.scrollTo(0, 0);
    }
  }

  viewport.addEventListener("resize", fit);
  fit();
})(jQuery);
