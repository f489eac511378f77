/*
 * Scroll-back: older messages, 50 at a time, when the reader scrolls to the
 * top of the box or presses #load-older (on the box's top edge, for keyboards);
 * #history-start ("Start of #General") there once the server says nothing is
 * left.
 *
 *   var scrollback = d09Chat.scrollback({ $box, $button, $start, timeline, scroll,
 *     ask: function (before, limit, done) { ...; done(answer); }, ready: fn });
 *   scrollback.entered(count, lastRead)  // the join history came
 *   scrollback.reset()                   // the timeline was cleared
 *
 * The older lines go in through the timeline (ordered by id there) inside
 * scroll.keep(): the line the reader looks at stays exactly where it is.
 *
 * A refusal with `retry_after` (the user's or the worker's budget of costly
 * requests) is not asked again before that many seconds, whatever the reader
 * does meanwhile: the button says when, and the page loads by itself then if
 * the reader is still at the top. Asking at once would only be refused again
 * (and the server does not read this connection until then anyway).
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
    self.waitUntil = 0;    // Date.now() before which nothing is asked (retry_after)
    self.generation = 0;   // +1 when the timeline is cleared: late answers are dropped
    self.$button.on("click", function () {
      self.load();
    });
    // Only a box that scrolls can be scrolled to its top: one that does not
    // (the join history's 3 lines) loads through the button alone.
    self.$box.on("scroll", function () {
      if (this.scrollHeight > this.clientHeight && self.scroll.atTop()) {
        self.load();
      }
    });
  }

  Scrollback.prototype.load = function () {
    var self = this;
    var before = self.timeline.oldestId();
    if (self.loading || self.waiting() || self.more === false || before === null ||
        !self.ready()) {
      return;
    }
    var generation = self.generation;
    self.loading = true;
    self.update();
    self.ask(before, PAGE, function (answer) {
      if (generation !== self.generation) {
        return;
      }
      var messages = answer && answer.ok && Array.isArray(answer.messages) ? answer.messages : [];
      self.scroll.keep(function () {
        $.each(messages, function (_, message) {
          self.timeline.upsert(message);
        });
        self.loading = false;
        if (answer && answer.ok) {
          self.more = !!answer.more && messages.length > 0;
        }
        self.update();
      });
      if (answer && !answer.ok && typeof answer.retry_after === "number") {
        self.waitThenLoad(answer.retry_after, generation);
      }
    });
  };

  Scrollback.prototype.waiting = function () {
    return Date.now() < this.waitUntil;
  };

  /* Refused for `seconds`: ask nothing before then, and then load if the
   * reader is still at the top. */
  Scrollback.prototype.waitThenLoad = function (seconds, generation) {
    var self = this;
    var ms = Math.max(1, Math.min(Number(seconds) || 1, 300)) * 1000;
    self.waitUntil = Date.now() + ms;
    self.update();
    window.setTimeout(function () {
      if (generation !== self.generation) {
        return;
      }
      self.waitUntil = 0;
      self.update();
      if (self.scroll.atTop()) {
        self.load();
      }
    }, ms);
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
    this.waitUntil = 0;
    this.more = null;
    this.update();
  };

  Scrollback.prototype.update = function () {
    var start = this.more === false;
    var hadFocus = this.$button.is(":focus");
    this.$start.prop("hidden", !start);
    this.$button
      .prop("hidden", start || this.timeline.oldestId() === null)
      // Not disabled while loading: that would take a keyboard reader's focus away.
      .attr("aria-busy", this.loading ? "true" : "false")
      .text(this.buttonText());
    if (hadFocus && this.$button.prop("hidden")) {
      this.$box.trigger("focus");  // a keyboard reader stays in the box, not on the page
    }
  };

  Scrollback.prototype.buttonText = function () {
    if (this.loading) {
      return "Loading older messages…";
    }
    if (this.waiting()) {
      var seconds = Math.ceil((this.waitUntil - Date.now()) / 1000);
      return "Older messages in " + seconds + " s (too many requests)";
    }
    return "Load older messages";
  };

  chat.scrollback = function (parts) {
    return new Scrollback(parts);
  };
})(jQuery);
