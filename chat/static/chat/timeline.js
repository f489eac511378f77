/*
 * The timeline: the lines of #messages.
 *
 *   var timeline = d09Chat.timeline($("#messages"));
 *   timeline.upsert(message)   // a message object from the server -> {$line, isNew}
 *   timeline.notice(text)      // "bob has joined the chat", with the time it arrived
 *   timeline.newestId()        // the newest message id shown, or null
 *   timeline.clear()           // forget every line (the server said to start afresh)
 *
 * One line per message id: a message shown again (a resend, later an edit) is
 * re-rendered in place by render(), the one function that turns a message
 * object into a `.message` line. Lines are ordered by id, the database's order,
 * in place(). Around every line it adds, tidy() keeps the derived marks right:
 * a `.day-separator` before the first line of each local day, and `.continued`
 * on a message that follows one of the same author closely. Everything users
 * typed is inserted with .text() or .attr(), never as HTML.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var GROUP_WITHIN_MS = 5 * 60 * 1000;  // a message this soon after its author's last one joins it
  var AUTHOR_HUES = 8;                  // .hue-0 ... .hue-7 in chat.css

  function hueOf(name) {
    var hash = 0;
    for (var i = 0; i < name.length; i += 1) {
      hash = (hash * 33 + name.charCodeAt(i)) % 100003;
    }
    return "hue-" + (hash % AUTHOR_HUES);
  }

  /* The time a line stands for: a message's creation, a notice's arrival. */
  function timeOf(line) {
    return new Date($(line).children("time").attr("datetime"));
  }

  function isTimed(line) {
    return $(line).is(".message, .notice");
  }

  function Timeline($box) {
    var self = this;
    self.$box = $box;
    self.byId = {};        // message id -> its .message line (jQuery)
    self.newest = null;    // newest message id shown
    self.today = chat.time.dayKey(new Date());
    // "Today" becomes "Yesterday" at midnight for a page left open.
    setInterval(function () {
      if (chat.time.dayKey(new Date()) !== self.today) {
        self.today = chat.time.dayKey(new Date());
        self.relabelDays();
      }
    }, 60 * 1000);
  }

  /* A message object as a detached `.message` line; pending/edited/deleted states go here. */
  Timeline.prototype.render = function (message) {
    var created = message.created ? new Date(message.created) : new Date();
    var user = String(message.user);
    var $line = $("<div class='message'></div>").addClass(hueOf(user)).attr("data-user", user);
    if (typeof message.id === "number") {
      $line.attr("data-id", message.id);
    }
    $("<span class='avatar' aria-hidden='true'></span>")
      .text(Array.from(user)[0] || "?")  // the first character, even outside the BMP
      .appendTo($line);
    $("<span class='author'></span>").text(user).appendTo($line);
    chat.time.element(created).appendTo($line);
    $("<span class='text'></span>").text(message.text).appendTo($line);
    return $line;
  };

  /*
   * Show a message: a new id gets a line in its place, a known one is
   * re-rendered where it is. Returns {$line, isNew}, or null for something
   * that is not a message.
   */
  Timeline.prototype.upsert = function (message) {
    if (!message || typeof message.id !== "number") {
      return null;
    }
    var $old = this.byId[message.id];
    var $line = this.render(message);
    if ($old) {
      $old.replaceWith($line);
    } else {
      this.place($line, message.id);
    }
    this.byId[message.id] = $line;
    this.newest = this.newest === null ? message.id : Math.max(this.newest, message.id);
    this.tidy($line);
    return { $line: $line, isNew: !$old };
  };

  /*
   * The one place that orders lines: by id. A message older than the newest
   * one shown (a resend after a hiccup, later a page of scroll-back) goes
   * before the first message with a greater id; lines without an id (notices)
   * stay where they were put, at the end when they arrived.
   */
  Timeline.prototype.place = function ($line, id) {
    if (this.newest !== null && id < this.newest) {
      var $next = this.$box.children(".message[data-id]").filter(function () {
        return Number($(this).attr("data-id")) > id;
      }).first();
      if ($next.length) {
        $line.insertBefore($next);
        return;
      }
    }
    this.$box.append($line);
  };

  /* A notice (joined, left) with the time it arrived. */
  Timeline.prototype.notice = function (text, isError) {
    var $line = $("<div class='notice'></div>").toggleClass("error", !!isError);
    // The time is drawn by the style sheet: the notice's text is its words alone.
    chat.time.element(new Date(), { quiet: true }).appendTo($line);
    $("<span class='notice-text'></span>").text(text).appendTo($line);
    this.$box.append($line);
    this.tidy($line);
    return $line;
  };

  Timeline.prototype.clear = function () {
    this.$box.empty();
    this.byId = {};
    this.newest = null;
  };

  Timeline.prototype.newestId = function () {
    return this.newest;
  };

  /* Fix the day separator and grouping of a line that just arrived and of the line after it. */
  Timeline.prototype.tidy = function ($line) {
    this.fixDay($line[0]);
    var next = $line.nextAll(".message, .notice")[0];
    if (next) {
      this.fixDay(next);
    }
  };

  Timeline.prototype.fixDay = function (line) {
    var $line = $(line);
    // Separators directly above a line belong to it: drop them, add the right one.
    $line.prevUntil(":not(.day-separator)").remove();
    var previous = $line.prevAll(".message, .notice")[0];
    var time = timeOf(line);
    if (!previous || chat.time.dayKey(timeOf(previous)) !== chat.time.dayKey(time)) {
      $("<div class='day-separator'></div>")
        .attr("data-day", time.toISOString())
        .append($("<span></span>").text(chat.time.dayLabel(time)))
        .insertBefore($line);
      previous = null;
    }
    var follows = previous && $line.is(".message") && $(previous).is(".message") &&
      $line.prev()[0] === previous &&
      $(previous).attr("data-user") === $line.attr("data-user") &&
      time - timeOf(previous) < GROUP_WITHIN_MS;
    $line.toggleClass("continued", !!follows);
  };

  Timeline.prototype.relabelDays = function () {
    this.$box.children(".day-separator").each(function () {
      $(this).children("span").text(chat.time.dayLabel(new Date($(this).attr("data-day"))));
    });
  };

  chat.timeline = function ($box) {
    return new Timeline($box);
  };
})(jQuery);
