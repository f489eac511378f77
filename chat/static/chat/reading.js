/*
 * Read marks: the page tells the server how far the reader has read (client
 * event "read" {"id": newest}) when the newest message is visible in a focused
 * tab, and again each time the newest changes while it is visible.
 *
 *   var reading = d09Chat.reading({ $box, timeline,
 *     send: function (id, done) { ...; done(answer); }, ready: fn });
 *   reading.check();   // after anything that may have shown a newer message
 *
 * It also checks by itself when the box scrolls, the window gets the focus or
 * the tab is shown. One read is on its way at a time; the newest id when its
 * ack comes is the next one (a burst of messages costs one or two reads).
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var SEEN_PX = 24;  // this much of a line (or all of a shorter one) in view: it was seen

  function Reading(parts) {
    var self = this;
    $.extend(self, parts);
    self.sent = 0;         // the newest id the server has taken as read
    self.sending = false;
    function check() {
      self.check();
    }
    self.$box.on("scroll", check);
    $(window).on("focus", check);
    $(document).on("visibilitychange", check);
  }

  Reading.prototype.seen = function (line) {
    var box = this.$box[0].getBoundingClientRect();
    var rect = line.getBoundingClientRect();
    return rect.bottom > box.top && rect.top + Math.min(rect.height, SEEN_PX) <= box.bottom;
  };

  Reading.prototype.check = function () {
    var self = this;
    var id = self.timeline.newestId();
    if (self.sending || id === null || id <= self.sent || !self.ready() ||
        document.hidden || !document.hasFocus()) {
      return;
    }
    var $line = self.timeline.line(id);
    if (!$line || !self.seen($line[0])) {
      return;
    }
    self.sending = true;
    self.send(id, function (answer) {
      self.sending = false;
      if (answer && (answer.ok || !answer.lost)) {
        // Taken, or refused for good: either way not to be sent again.
        self.sent = Math.max(self.sent, id);
        self.check();
      }
      // Lost with the connection: checked again once the room is back.
    });
  };

  chat.reading = function (parts) {
    return new Reading(parts);
  };
})(jQuery);
