/*
 * Editing and deleting messages in #messages, with the controls the timeline
 * renders on each line it allows (`.edit-message`, `.delete-message`).
 *
 *   d09Chat.editing({ $box, timeline, $composer: $("#message-input"),
 *     edit: function (id, text, done) { ...; done(answer); },
 *     remove: function (id, done) { ...; done(answer); },
 *     showError: function (text) { ... } });
 *
 * A line shows its controls while pointed at or focused, or on touch screens
 * once tapped (`.show-actions`). Edit opens a small form in place of the text (`.message-editor`): Enter
 * saves (Shift+Enter: a new line), Escape or Cancel closes it; the server's
 * refusal shows in the form, which stays open. Delete asks first, inline
 * ("Delete? Yes / No", `.delete-confirm`; Escape is No); a refusal shows in
 * #message-error. What the line becomes comes from the room (message_updated,
 * message_deleted) through the timeline, which keeps an open form or question
 * on a line it re-renders (timeline.carry).
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var EDITOR_MAX_ROWS = 6;
  // Without hover (touch screens) a line shows its controls once tapped.
  var NO_HOVER = !!(window.matchMedia && window.matchMedia("(hover: none)").matches);

  function idOf(element) {
    return Number($(element).closest(".message").attr("data-id"));
  }

  function Editing(parts) {
    var self = this;
    $.extend(self, parts);
    var $box = self.$box;
    $box.on("click", ".message.has-actions", function (event) {
      if (NO_HOVER && !$(event.target).closest("button, a, .message-editor").length) {
        var show = !$(this).hasClass("show-actions");
        $box.children(".show-actions").removeClass("show-actions");
        $(this).toggleClass("show-actions", show);
      }
    });
    $box.on("click", ".message .edit-message", function () {
      self.open($(this).closest(".message"));
    });
    $box.on("submit", ".message-editor", function (event) {
      event.preventDefault();
      self.save($(this).closest(".message"));
    });
    $box.on("click", ".message-editor .edit-cancel", function () {
      self.close($(this).closest(".message"));
    });
    $box.on("keydown", ".message-editor .edit-input", function (event) {
      var original = event.originalEvent || {};
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        self.close($(this).closest(".message"));
      } else if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
                 !event.metaKey && !original.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        self.save($(this).closest(".message"));
      }
    });
    $box.on("input", ".message-editor .edit-input", function () {
      self.fit(this);
    });
    $box.on("click", ".message .delete-message", function () {
      self.ask($(this).closest(".message"));
    });
    $box.on("click", ".delete-confirm .confirm-no", function () {
      self.unask($(this).closest(".message"));
    });
    $box.on("keydown", ".delete-confirm", function (event) {
      if (event.key === "Escape") {
        event.stopPropagation();
        self.unask($(this).closest(".message"));
      }
    });
    $box.on("click", ".delete-confirm .confirm-yes", function () {
      self.confirmed($(this).closest(".message"));
    });
  }

  /* The current line of message `id` (a line may be re-rendered while the server answers). */
  Editing.prototype.line = function (id) {
    return this.timeline.line(id) || $();
  };

  Editing.prototype.open = function ($line) {
    if ($line.hasClass("editing")) {
      $line.find(".edit-input").trigger("focus");
      return;
    }
    var $form = $("<form class='message-editor'></form>");
    var $input = $("<textarea class='form-control form-control-sm edit-input'></textarea>")
      .attr("aria-label", "Edit your message")
      .val($line.find(".text").text())
      .appendTo($form);
    var $bar = $("<div class='editor-bar'></div>").appendTo($form);
    $("<button type='submit' class='btn btn-primary btn-sm edit-save'></button>")
      .text("Save").appendTo($bar);
    $("<button type='button' class='btn btn-link btn-sm edit-cancel'></button>")
      .text("Cancel").appendTo($bar);
    $("<span class='editor-hint'></span>").text("Enter to save, Escape to cancel").appendTo($bar);
    $("<div class='edit-error' role='alert'></div>").appendTo($form);
    $line.addClass("editing").append($form);
    this.fit($input[0]);
    var end = $input.val().length;
    $input.trigger("focus");
    $input[0].setSelectionRange(end, end);
  };

  Editing.prototype.fit = function (input) {
    input.rows = Math.min(EDITOR_MAX_ROWS, input.value.split("\n").length);
  };

  Editing.prototype.close = function ($line, focus) {
    $line.removeClass("editing").find(".message-editor").remove();
    if (focus !== false) {
      var $edit = $line.find(".edit-message");
      ($edit.length ? $edit : this.$box).trigger("focus");
    }
  };

  Editing.prototype.save = function ($line) {
    var self = this;
    var id = idOf($line);
    var $form = $line.find(".message-editor");
    var text = $form.find(".edit-input").val();
    if ($form.hasClass("saving")) {
      return;
    }
    if (text === $line.find(".text").text()) {
      self.close($line);  // nothing changed: nothing to send
      return;
    }
    $form.addClass("saving").find(".edit-save").prop("disabled", true).text("Saving…");
    $form.find(".edit-error").text("");
    self.edit(id, text, function (answer) {
      var $now = self.line(id);
      var $editor = $now.find(".message-editor");
      $editor.removeClass("saving").find(".edit-save").prop("disabled", false).text("Save");
      if (answer && answer.ok) {
        self.close($now, false);
        self.$composer.trigger("focus");
      } else {
        $editor.find(".edit-error")
          .text((answer && answer.error) || "The message could not be saved.");
      }
    });
  };

  Editing.prototype.ask = function ($line) {
    if ($line.hasClass("confirming")) {
      return;
    }
    var $confirm = $("<span class='delete-confirm' role='group'></span>")
      .attr("aria-label", "Delete this message?");
    $("<span class='confirm-question'></span>").text("Delete?").appendTo($confirm);
    $("<button type='button' class='btn btn-danger btn-sm confirm-yes'></button>")
      .text("Yes").appendTo($confirm);
    $("<button type='button' class='btn btn-secondary btn-sm confirm-no'></button>")
      .text("No").appendTo($confirm);
    $line.addClass("confirming").children(".message-actions").append($confirm);
    $confirm.find(".confirm-no").trigger("focus");
  };

  Editing.prototype.unask = function ($line) {
    $line.removeClass("confirming").find(".delete-confirm").remove();
    $line.find(".delete-message").trigger("focus");
  };

  Editing.prototype.confirmed = function ($line) {
    var self = this;
    var id = idOf($line);
    $line.find(".delete-confirm button").prop("disabled", true);
    self.showError("");
    self.remove(id, function (answer) {
      var $now = self.line(id);
      if (answer && answer.ok) {
        return;  // the line is a placeholder now
      }
      $now.find(".delete-confirm button").prop("disabled", false);
      self.unask($now);
      self.showError((answer && answer.error) || "The message could not be deleted.");
    });
  };

  chat.editing = function (parts) {
    return new Editing(parts);
  };
})(jQuery);
