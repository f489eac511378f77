/*
 * Times in the reader's own time zone: <time> elements (HH:MM, the full date
 * and time on hover) and the labels of days ("Today", "Yesterday", a date).
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  function pad(number) {
    return (number < 10 ? "0" : "") + number;
  }

  function hhmm(date) {
    return pad(date.getHours()) + ":" + pad(date.getMinutes());
  }

  /* Two dates on the same local day have the same key. */
  function dayKey(date) {
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate());
  }

  function dayLabel(date, now) {
    now = now || new Date();
    if (dayKey(date) === dayKey(now)) {
      return "Today";
    }
    var yesterday = new Date(now.getFullYear(), now.getMonth(), now.getDate() - 1);
    if (dayKey(date) === dayKey(yesterday)) {
      return "Yesterday";
    }
    return date.toLocaleDateString([], {
      weekday: "long", year: "numeric", month: "long", day: "numeric"
    });
  }

  /* A moment to come, for a sentence: "14:05", "14:05 tomorrow", "14:05 on Friday, 3 July". */
  function until(date, now) {
    now = now || new Date();
    var tomorrow = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    if (dayKey(date) === dayKey(now)) {
      return hhmm(date);
    }
    if (dayKey(date) === dayKey(tomorrow)) {
      return hhmm(date) + " tomorrow";
    }
    return hhmm(date) + " on " +
      date.toLocaleDateString([], { weekday: "long", month: "long", day: "numeric" });
  }

  /*
   * <time datetime="<ISO>" title="<full date and time>">HH:MM</time>. With
   * options.quiet the HH:MM is drawn by the style sheet (data-time) instead of
   * being text, so the line's text stays exactly what it says (notices).
   */
  function element(date, options) {
    var $time = $("<time></time>")
      .attr("datetime", date.toISOString())
      .attr("title", date.toLocaleString([], { dateStyle: "full", timeStyle: "medium" }));
    if (options && options.quiet) {
      return $time.attr("data-time", hhmm(date));
    }
    return $time.text(hhmm(date));
  }

  chat.time = { hhmm: hhmm, dayKey: dayKey, dayLabel: dayLabel, until: until, element: element };
})(jQuery);
