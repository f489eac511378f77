/*
 * Mentions: `@username` of a user who exists (the server lists them in a
 * message's `mentions`).
 *
 *   d09Chat.mentions.fill($text, text, ["bob"])   // the text, "@bob" runs highlighted
 *   var completer = d09Chat.mentions.completer({ $input, $list, names: fn, me });
 *   completer.update();     // the text or the caret moved: open, filter or close
 *   completer.key(event);   // true when the key was the list's (Up/Down/Enter/Tab/Escape)
 *
 * fill() splits the text into text nodes and `.mention-name` spans: never
 * HTML from user data. It finds `@name` runs the way the server does (a name
 * of letters, digits and `_ . @ + -`, not right after a letter, digit, `_` or
 * `@`; trailing dots are not part of it).
 *
 * The completer offers the room's connected users (but the reader) while the
 * word at the caret starts with "@", filtered by what follows it, in a
 * listbox under the composer's control (aria-activedescendant on the
 * textarea, the options' aria-selected); Up and Down move, Enter or Tab
 * chooses, Escape closes (until the next "@"), a click chooses.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  // The server's rule (chat/messages.py, _MENTION), with Python's \w spelt out.
  var MENTION = /(?<![\p{L}\p{N}_@])@([\p{L}\p{N}_.@+-]+)/gu;
  // "@" and what was typed after it, ending at the caret.
  var AT_CARET = /(?:^|[^\p{L}\p{N}_@])@([\p{L}\p{N}_.@+-]*)$/u;

  function fill($text, text, mentions) {
    var node = $text[0];
    var done = 0;
    var match;
    MENTION.lastIndex = 0;
    while (mentions.length && (match = MENTION.exec(text)) !== null) {
      var name = match[1].replace(/\.+$/, "");
      if ($.inArray(name, mentions) === -1) {
        continue;
      }
      node.appendChild(document.createTextNode(text.slice(done, match.index)));
      $("<span class='mention-name'></span>").text("@" + name).appendTo($text);
      done = match.index + 1 + name.length;
    }
    node.appendChild(document.createTextNode(text.slice(done)));
  }

  function Completer(parts) {
    var self = this;
    $.extend(self, parts);
    self.input = self.$input[0];
    self.items = [];        // the names offered, in order
    self.active = 0;        // the index of the one Enter would choose
    self.start = null;      // where the "@" being completed is in the text; null: closed
    self.dismissed = null;  // the "@" the reader closed the list on with Escape
    self.$input.attr({ "aria-autocomplete": "list", "aria-haspopup": "listbox",
                       "aria-controls": self.$list.attr("id") });
    self.$input.on("click blur", function (event) {
      if (event.type === "blur") {
        self.close();
      } else {
        self.update();
      }
    });
    self.$input.on("keyup", function (event) {
      if (/^(ArrowLeft|ArrowRight|Home|End)$/.test(event.key)) {
        self.update();
      }
    });
    // mousedown, not click: the textarea keeps the focus (and the caret).
    self.$list.on("mousedown", "[role=option]", function (event) {
      event.preventDefault();
      self.choose(Number($(this).attr("data-index")));
    });
  }

  Completer.prototype.update = function () {
    var input = this.input;
    var found = input.selectionStart === input.selectionEnd &&
      AT_CARET.exec(input.value.slice(0, input.selectionStart));
    if (!found) {
      this.dismissed = null;
      this.close();
      return;
    }
    var query = found[1].toLowerCase();
    var start = input.selectionStart - found[1].length - 1;
    if (start === this.dismissed) {
      return;
    }
    var me = this.me;
    var wasActive = this.items[this.active];
    this.items = $.grep(this.names(), function (name) {
      return name !== me && name.toLowerCase().indexOf(query) === 0;
    });
    if (!this.items.length) {
      this.close();
      return;
    }
    this.start = start;
    this.active = Math.max(0, $.inArray(wasActive, this.items));
    this.render();
  };

  Completer.prototype.render = function () {
    var self = this;
    var id = self.$list.attr("id");
    self.$list.empty().prop("hidden", false);
    $.each(self.items, function (index, name) {
      $("<li role='option' class='mention-option'></li>")
        .attr({ id: id + "-" + index, "data-index": index,
                "aria-selected": index === self.active ? "true" : "false" })
        .toggleClass("active", index === self.active)
        .text("@" + name)
        .appendTo(self.$list);
    });
    self.$input.attr("aria-activedescendant", id + "-" + self.active);
    var option = self.$list.children()[self.active];
    if (option && option.scrollIntoView) {
      option.scrollIntoView({ block: "nearest" });
    }
  };

  Completer.prototype.close = function () {
    this.start = null;
    this.items = [];
    this.$list.prop("hidden", true).empty();
    this.$input.removeAttr("aria-activedescendant");
  };

  Completer.prototype.isOpen = function () {
    return this.start !== null;
  };

  Completer.prototype.key = function (event) {
    if (!this.isOpen() || event.altKey || event.ctrlKey || event.metaKey) {
      return false;
    }
    var count = this.items.length;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      this.active = (this.active + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
      this.render();
    } else if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
      this.choose(this.active);
    } else if (event.key === "Escape") {
      this.dismissed = this.start;
      this.close();
      event.stopPropagation();  // not the end of anything else (the phone's user list)
    } else {
      return false;
    }
    return true;
  };

  /* "@" and what was typed become "@name ", the caret after it. */
  Completer.prototype.choose = function (index) {
    var name = this.items[index];
    if (name === undefined || this.start === null) {
      return;
    }
    var input = this.input;
    var value = input.value;
    var inserted = "@" + name + " ";
    input.value = value.slice(0, this.start) + inserted + value.slice(input.selectionStart);
    var caret = this.start + inserted.length;
    input.setSelectionRange(caret, caret);
    this.close();
    this.$input.trigger("input");  // the composer fits, and the others hear of the typing
  };

  chat.mentions = {
    fill: fill,
    completer: function (parts) {
      return new Completer(parts);
    }
  };
})(jQuery);
