/*
 * Scroll-back: older messages, 50 at a time, when the reader scrolls to the
 * top of the box or presses #load-older (at the top of the box, for keyboards);
 * #history-start ("Start of #General") once the server says nothing is left.
 *
 *   var scrollback = d09Chat.scrollback({ $box, $button, $start, timeline, scroll,
 *     ask: function (before, limit, done) { ...; done(answer); }, ready: fn });
 *   scrollback.entered(count, lastRead)  // the join history came
 *   scrollback.reset()                   // the timeline was cleared
 *
 * The older lines go in through the timeline (ordered by id there) inside
 * scroll.keep(): the line the reader looks at stays exactly where it is.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var PAGE = 50;          // messages asked for at a time
  var JOIN_HISTORY = 3;   // a join history this short (nothing unread) is the whole room

  function Scrollback(parts) {
    var self = this;
    $.extend(self, parts);
    self.more = null;      // null: not known yet; false: the start is shown
    self.loading = false;
    self.generation = 0;   // +1 when the timeline is cleared: late answers are dropped
    self.lastTop = self.$box[0].scrollTop;
    self.$button.on("click", function () {
      self.load();
    });
    self.$box.on("scroll", function () {
      var top = this.scrollTop;
      // The reader went up to the top (not a box that happens to start there).
      if (top < self.lastTop && self.scroll.atTop()) {
        self.load();
      }
      self.lastTop = top;
    });
  }

  Scrollback.prototype.load = function () {
    var self = this;
    var before = self.timeline.oldestId();
    if (self.loading || self.more === false || before === null || !self.ready()) {
      return;
    }
    var generation = self.generation;
    self.loading = true;
    self.update();
    self.ask(before, PAGE, function (answer) {
      if (generation !== self.generation) {
        return;
      }
      self.loading = false;
      if (answer && answer.ok) {
        var messages = Array.isArray(answer.messages) ? answer.messages : [];
        self.scroll.keep(function () {
          $.each(messages, function (_, message) {
            self.timeline.upsert(message);
          });
        });
        self.more = !!answer.more && messages.length > 0;
      }
      self.update();
    });
  };

  /* The join history: a short one with nothing unread is the whole room. */
  Scrollback.prototype.entered = function (count, lastRead) {
    if (lastRead === null && count < JOIN_HISTORY) {
      this.more = false;
    }
    this.update();
  };

  Scrollback.prototype.reset = function () {
    this.generation += 1;
    this.loading = false;
    this.more = null;
    this.update();
  };

  Scrollback.prototype.update = function () {
    var start = this.more === false;
    this.$start.prop("hidden", !start);
    this.$button
      .prop("hidden", start || this.timeline.oldestId() === null)
      .prop("disabled", this.loading)
      .text(this.loading ? "Loading older messages…" : "Load older messages");
  };

  chat.scrollback = function (parts) {
    return new Scrollback(parts);
  };
})(jQuery);
