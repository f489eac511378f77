/*
 * The composer: #message-input (a textarea growing up to MAX_LINES lines),
 * #send-button and #message-error.
 *
 *   var composer = d09Chat.composer({ $form, $input, $send, $error,
 *     onSend: function (text, done) { ...; done(answer); },
 *     onTyping: function (typing) { ... },     // optional
 *     completer: d09Chat.mentions.completer(...) });  // optional: "@" completion
 *   composer.enable(true);
 *
 * Enter sends, Shift+Enter starts a new line (so does Enter while an input
 * method is composing); while the "@" completion is open, its keys are its
 * own (Enter and Tab choose). onSend gets the text as typed; done({ok: true})
 * clears the input unless the reader typed on meanwhile, done({ok: false,
 * error}) shows the error and keeps the text.
 *
 * onTyping(true) is called when the reader types, at most every
 * TYPING_EVERY_MS while they go on; onTyping(false) when they send or empty
 * the input after that.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var MAX_LINES = 5;
  var TYPING_EVERY_MS = 3000;

  function Composer(parts) {
    var self = this;
    $.extend(self, parts);
    self.enabled = false;
    self.sending = false;
    self.typingSince = 0;  // when onTyping(true) was last called; 0: not typing
    self.$input.on("input", function () {
      self.fit();
      self.typed();
      if (self.completer) {
        self.completer.update();
      }
    });
    self.$input.on("keydown", function (event) {
      var original = event.originalEvent || {};
      if (self.completer && !original.isComposing && self.completer.key(event)) {
        event.preventDefault();
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
          !event.metaKey && !original.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        self.$form.trigger("submit");
      }
    });
    self.$form.on("submit", function (event) {
      event.preventDefault();
      self.submit();
    });
    self.fit();
  }

  Composer.prototype.submit = function () {
    var self = this;
    var text = self.$input.val();
    if (!self.enabled || self.sending || !text.trim()) {
      return;
    }
    self.sending = true;
    self.showError("");
    self.update();
    self.stoppedTyping();
    if (self.completer) {
      self.completer.close();
    }
    self.onSend(text, function (answer) {
      self.sending = false;
      self.update();
      if (answer && answer.ok) {
        // Keep anything typed while the message was on its way.
        if (self.$input.val() === text) {
          self.$input.val("");
          self.fit();
        }
      } else {
        self.showError((answer && answer.error) || "The message could not be sent.");
      }
      self.$input.trigger("focus");
    });
  };

  /* The input changed: the others hear that the reader types, or stopped. */
  Composer.prototype.typed = function () {
    if (!this.onTyping) {
      return;
    }
    if (this.$input.val() === "") {
      this.stoppedTyping();
    } else if (Date.now() - this.typingSince >= TYPING_EVERY_MS) {
      this.typingSince = Date.now();
      this.onTyping(true);
    }
  };

  Composer.prototype.stoppedTyping = function () {
    if (this.onTyping && this.typingSince) {
      this.typingSince = 0;
      this.onTyping(false);
    }
  };

  Composer.prototype.enable = function (enabled) {
    this.enabled = !!enabled;
    this.update();
  };

  Composer.prototype.update = function () {
    this.$input.prop("disabled", !this.enabled);
    this.$send.prop("disabled", !this.enabled || this.sending);
  };

  Composer.prototype.showError = function (text) {
    this.$error.text(text);
  };

  /* As tall as its text, up to MAX_LINES lines; then it scrolls. */
  Composer.prototype.fit = function () {
    var input = this.$input[0];
    var style = window.getComputedStyle(input);
    var edges = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom) +
      parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    var tallest = parseFloat(style.lineHeight) * MAX_LINES + edges;
    input.style.height = "auto";
    var wanted = input.scrollHeight + parseFloat(style.borderTopWidth) +
      parseFloat(style.borderBottomWidth);
    input.style.height = Math.min(wanted, tallest) + "px";
    input.style.overflowY = wanted > tallest ? "auto" : "hidden";
  };

  chat.composer = function (parts) {
    return new Composer(parts);
  };
})(jQuery);
