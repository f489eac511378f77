/*
 * A room opened at a message (a search result: /chat/<room>/?at=<id>, the
 * page's data-at): the message in its context, highlighted (.message-target),
 * older messages above (scroll-back as always), newer ones below, loaded as
 * the reader scrolls down ("newer"), until the live end; from there the page
 * is a room opened normally.
 *
 *   var jump = d09Chat.jump({ target, $box, timeline, scroll, scrollback,
 *     ask: function (event, payload, done) { ...; done(answer); },
 *     live: function (held) { ... } });
 *   jump.active           // true from the start until the live end is shown
 *   jump.start()          // once the socket is in the room: the context (again if lost)
 *   jump.hold(message)    // a message for the live end, while active (or shown in place)
 *   jump.toLiveEnd()      // leave the context for the newest messages (the reader sends)
 *   jump.cancel()         // the room is shown afresh (history_reset)
 *
 * Until the live end the room's new messages are held, not shown: below the
 * context they would leave a hole. `live(held)` gets them once the newest
 * message is in. The read mark stays where it was while the page is in the
 * context (room.js asks reading.js only when jump.active is false): what was
 * jumped over is not read.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var CONTEXT = 25;  // messages asked for above and below the target
  var PAGE = 50;     // messages asked for at a time going down
  var NEWEST = Number.MAX_SAFE_INTEGER;  // "before" it: the room's newest messages

  function Jump(parts) {
    var self = this;
    $.extend(self, parts);
    self.active = self.target !== null;
    self.started = false;  // the context asked for and shown (again after a lost answer)
    self.loading = false;
    self.held = [];
    self.generation = 0;  // +1 when the context is left: late answers are dropped
    self.$box.on("scroll", function () {
      self.down();
    });
  }

  function messagesOf(answer) {
    return answer && answer.ok && Array.isArray(answer.messages) ? answer.messages : [];
  }

  Jump.prototype.start = function () {
    var self = this;
    if (!self.active || self.started) {
      return;
    }
    var generation = self.generation;
    self.started = true;
    self.loading = true;
    self.ask("older", { before: self.target + 1, limit: CONTEXT }, function (above) {
      if (generation !== self.generation) {
        return;
      }
      self.ask("newer", { after: self.target, limit: CONTEXT }, function (below) {
        if (generation !== self.generation) {
          return;
        }
        self.loading = false;
        if (!(above && above.ok && below && below.ok)) {
          self.started = false;  // lost with the connection, or refused: again at the next history
          return;
        }
        self.show(messagesOf(above).concat(messagesOf(below)));
        self.scrollback.more = !!above.more;
        self.scrollback.update();
        self.openAtTarget();
        self.after(below);
      });
    });
  };

  Jump.prototype.show = function (messages) {
    var timeline = this.timeline;
    $.each(messages, function (_, message) {
      timeline.upsert(message);
    });
  };

  /* The target in view, a third of the way down, marked; or why it is not there. */
  Jump.prototype.openAtTarget = function () {
    var $line = this.timeline.line(this.target);
    if (!$line) {
      this.timeline.notice("That message is no longer in this room.", true);
      return;
    }
    $line.addClass("message-target").attr("aria-current", "true");
    var box = this.$box[0];
    box.scrollTop = Math.max(0, $line[0].offsetTop - Math.round(box.clientHeight / 3));
    this.scroll.stuck = this.scroll.atBottom();
  };

  /* After a page going down: the live end, or more while the reader is at the bottom. */
  Jump.prototype.after = function (answer) {
    if (answer && answer.ok && !answer.more) {
      this.finish();
    } else if (answer && answer.ok) {
      this.down();
    }
    // Refused (too many requests) or lost: the next scroll asks again.
  };

  /* The next page going down, when the reader is at the bottom of what is shown. */
  Jump.prototype.down = function () {
    var self = this;
    var after = self.timeline.newestId();
    if (!self.active || self.loading || after === null || !self.scroll.atBottom()) {
      return;
    }
    var generation = self.generation;
    self.loading = true;
    self.ask("newer", { after: after, limit: PAGE }, function (answer) {
      if (generation !== self.generation) {
        return;
      }
      self.loading = false;
      var messages = messagesOf(answer);
      self.scroll.keep(function () {
        self.show(messages);
      });
      self.after(answer);
    });
  };

  /* A message of the room while in the context: in place if shown, else for the live end. */
  Jump.prototype.hold = function (message) {
    if (message && this.timeline.line(message.id)) {
      return this.timeline.upsert(message);
    }
    this.held.push(message);
    return null;
  };

  Jump.prototype.finish = function () {
    var held = this.held;
    this.active = false;
    this.loading = false;
    this.held = [];
    this.generation += 1;
    this.live(held);
  };

  Jump.prototype.toLiveEnd = function () {
    var self = this;
    if (!self.active) {
      return;
    }
    self.generation += 1;
    var generation = self.generation;
    self.loading = true;
    self.ask("older", { before: NEWEST, limit: PAGE }, function (answer) {
      if (generation !== self.generation) {
        return;
      }
      self.timeline.clear();
      self.scrollback.reset();
      self.show(messagesOf(answer));
      self.scrollback.more = answer && answer.ok ? !!answer.more : null;
      self.scrollback.update();
      self.finish();
      self.scroll.toBottom();
    });
  };

  Jump.prototype.cancel = function () {
    this.active = false;
    this.loading = false;
    this.held = [];
    this.generation += 1;
  };

  chat.jump = function (parts) {
    return new Jump(parts);
  };
})(jQuery);
