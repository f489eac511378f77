/*
 * Who is typing: the #typing line under the messages.
 *
 *   var typing = d09Chat.typing($("#typing"), { me: "alice" });
 *   typing.news("bob", true);   // the room's `typing` event
 *   typing.stop("bob");         // bob sent a message, or left
 *   typing.clear();             // the connection is gone: nothing known any more
 *
 * "bob is typing…", "bob and carol are typing…", "several people are
 * typing…" (three or more). An entry ends EXPIRES_MS after its last news (a
 * typist's "false" may never come: a closed tab, a lost connection), when
 * its user sends a message or leaves. News about the reader's own name (their
 * other tabs, through another worker) are not shown.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var EXPIRES_MS = 6000;

  function Typing($line, options) {
    this.$line = $line;
    this.me = options && options.me;
    this.until = {};     // name -> when its entry expires (ms)
    this.timer = null;
  }

  Typing.prototype.news = function (name, typing) {
    name = String(name);
    if (name === this.me) {
      return;
    }
    if (typing) {
      this.until[name] = Date.now() + EXPIRES_MS;
    } else {
      delete this.until[name];
    }
    this.show();
  };

  Typing.prototype.stop = function (name) {
    if (Object.prototype.hasOwnProperty.call(this.until, String(name))) {
      this.news(name, false);
    }
  };

  Typing.prototype.clear = function () {
    this.until = {};
    this.show();
  };

  /* The line as it is now; the next expiry is timed. */
  Typing.prototype.show = function () {
    var self = this;
    var now = Date.now();
    var names = [];
    var next = Infinity;
    $.each(self.until, function (name, until) {
      if (until <= now) {
        delete self.until[name];
      } else {
        names.push(name);
        next = Math.min(next, until);
      }
    });
    names.sort();
    var text = "";
    if (names.length === 1) {
      text = names[0] + " is typing…";
    } else if (names.length === 2) {
      text = names[0] + " and " + names[1] + " are typing…";
    } else if (names.length > 2) {
      text = "several people are typing…";
    }
    if (self.$line.text() !== text) {
      self.$line.text(text);
    }
    clearTimeout(self.timer);
    self.timer = next === Infinity ? null : setTimeout(function () {
      self.show();
    }, next - now + 10);
  };

  chat.typing = function ($line, options) {
    return new Typing($line, options);
  };
})(jQuery);
