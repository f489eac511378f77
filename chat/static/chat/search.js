/*
 * The search box (room list, room header, search page): "/" focuses it, unless
 * the reader is typing somewhere already (the composer, a form). On the search
 * page, each result's time in the reader's own time zone.
 */
(function ($) {
  "use strict";

  function typingSomewhere(target) {
    var $target = $(target);
    return $target.is("input, textarea, select, [contenteditable], [contenteditable] *");
  }

  $(document).on("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (typingSomewhere(event.target)) {
      return;
    }
    var $box = $(".search-box").first();
    if (!$box.length) {
      return;
    }
    event.preventDefault();
    $box.trigger("focus").trigger("select");
  });

  $(function () {
    $("time.search-time").each(function () {
      var date = new Date($(this).attr("datetime"));
      if (isNaN(date.getTime())) {
        return;
      }
      $(this)
        .attr("title", date.toLocaleString([], { dateStyle: "full", timeStyle: "medium" }))
        .text(date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }));
    });
  });
})(jQuery);
