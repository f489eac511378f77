/*
 * The composer: #message-input (a textarea growing up to MAX_LINES lines),
 * #send-button and #message-error.
 *
 *   var composer = d09Chat.composer({ $form, $input, $send, $error,
 *     onSend: function (text, done) { ...; done(answer); } });
 *   composer.enable(true);
 *
 * Enter sends, Shift+Enter starts a new line (so does Enter while an input
 * method is composing). onSend gets the text as typed; done({ok: true}) clears
 * the input unless the reader typed on meanwhile, done({ok: false, error})
 * shows the error and keeps the text.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var MAX_LINES = 5;

  function Composer(parts) {
    var self = this;
    $.extend(self, parts);
    self.enabled = false;
    self.sending = false;
    self.$input.on("input", function () {
      self.fit();
    });
    self.$input.on("keydown", function (event) {
      var original = event.originalEvent || {};
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
