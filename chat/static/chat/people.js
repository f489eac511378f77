/*
 * Who is in the room: the #users list and, on narrow screens, the
 * #users-toggle button ("3 online") that opens and closes it; for staff, the
 * moderation of each user but themselves.
 *
 *   var people = d09Chat.people({ $list: $("#users"), $toggle: $("#users-toggle"),
 *                                 $panel: $("#users-panel"), $counts: $(".users-count"),
 *                                 directUrl: function (name) { return "/chat/dm/" + name + "/"; },
 *                                 // staff only: the #moderation panel and what it sends
 *                                 me: "carol", staff: true, $moderation: $("#moderation"),
 *                                 moderate: function (event, payload, done) { ... } });
 *   people.whole(["alice", "bob"], 1732700000000);  // a whole list and its version
 *   people.change("joined", "carol", 1732700000001); // false: a change was missed
 *   people.show([]);
 *   people.names                                     // who is here, sorted
 *
 * Each name has a link to the direct conversation with that user (`directUrl`,
 * a function of the name; "Message bob", the reader's own: "Your notes"); none
 * in a direct conversation (`directUrl` null).
 *
 * Staff get a button next to each other user ("Moderate bob"; the item's text
 * stays the name) that opens #moderation under the list: mute them in this
 * room for 5, 60 or 1440 minutes (`mute` {user, minutes}) or let them write
 * again (`unmute` {user}). The room tells everyone (`muted`, `unmuted`); the
 * panel shows a refusal.
 *
 * The room sends its list as changes (joined/left with the list's version after
 * each); a whole list comes on joining, after a reap, or when asked for with the
 * client event "users". A change whose version is not the next one means one
 * was missed: change() says so and the page asks for the whole list again.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  function People(parts) {
    var self = this;
    $.extend(self, parts);
    self.names = [];
    self.version = null;  // the version of the list shown; null: none yet
    self.target = null;   // the user the moderation panel is open for
    self.$toggle.on("click", function () {
      self.open(!self.$panel.hasClass("open"));
    });
    $(document).on("keydown", function (event) {
      if (event.key === "Escape" && self.target !== null) {
        self.moderation(null, true);
      } else if (event.key === "Escape" && self.$panel.hasClass("open")) {
        self.open(false);
        self.$toggle.trigger("focus");
      }
    });
    if (self.staff && self.$moderation) {
      self.$list.on("click", ".moderate-user", function () {
        var name = this.getAttribute("data-user");
        self.moderation(self.target === name ? null : name);
      });
      self.$moderation.on("click", "[data-minutes]", function () {
        self.act("mute", { user: self.target, minutes: Number(this.getAttribute("data-minutes")) });
      });
      self.$moderation.on("click", ".unmute-user", function () {
        self.act("unmute", { user: self.target });
      });
      self.$moderation.on("click", ".moderation-close", function () {
        self.moderation(null, true);
      });
    }
  }

  People.prototype.whole = function (names, version) {
    this.version = typeof version === "number" ? version : null;
    this.show(names);
  };

  /* Apply a joined/left; false when the list missed a change (ask for it). */
  People.prototype.change = function (kind, name, version) {
    if (this.version === null || typeof version !== "number") {
      return true;  // no list yet: the joiner's own list is on its way
    }
    if (version <= this.version) {
      return true;  // already in the list shown
    }
    if (version !== this.version + 1) {
      return false;
    }
    this.version = version;
    var names = $.grep(this.names, function (other) { return other !== name; });
    if (kind === "joined") {
      names.push(name);
      names.sort();
    }
    this.show(names);
    return true;
  };

  People.prototype.show = function (names) {
    var self = this;
    var $list = self.$list.empty();
    self.names = names || [];
    $.each(self.names, function (_, name) {
      var $item = $("<li></li>").text(name).appendTo($list);
      if (self.directUrl) {
        // Like the moderation button: no text of its own, the item reads as the name.
        $("<a class='message-user'></a>")
          .attr({ href: self.directUrl(name),
                  "aria-label": name === self.me ? "Your notes" : "Message " + name,
                  title: name === self.me ? "Your notes" : "Message " + name })
          .appendTo($item);
      }
      if (self.staff && self.$moderation && name !== self.me) {
        // No text of its own (aria-label, a glyph from the style sheet): the item reads as the name.
        $("<button type='button' class='btn btn-sm moderate-user'></button>")
          .attr({ "data-user": name, "aria-label": "Moderate " + name,
                  "aria-controls": self.$moderation.attr("id"),
                  "aria-expanded": name === self.target ? "true" : "false" })
          .appendTo($item);
      }
    });
    self.$counts.text(self.names.length);
  };

  /*
   * Open the moderation panel for `name`; null closes it (`refocus`: the
   * focus goes back to the button that opened it).
   */
  People.prototype.moderation = function (name, refocus) {
    var was = this.target;
    this.target = name;
    this.$list.find(".moderate-user").each(function () {
      this.setAttribute("aria-expanded", this.getAttribute("data-user") === name ? "true" : "false");
    });
    this.$moderation.prop("hidden", name === null);
    this.$moderation.find(".moderation-error").text("");
    this.$moderation.find("button").prop("disabled", false);
    if (name !== null) {
      this.$moderation.find(".moderation-user").text(name);
      this.$moderation.find("[data-minutes]").first().trigger("focus");
    } else if (refocus) {
      var $opener = this.$list.find(".moderate-user").filter(function () {
        return this.getAttribute("data-user") === was;
      });
      ($opener.length ? $opener : this.$list.closest("[tabindex], aside")).trigger("focus");
    }
  };

  People.prototype.act = function (event, payload) {
    var self = this;
    var $buttons = self.$moderation.find("button").prop("disabled", true);
    self.$moderation.find(".moderation-error").text("");
    self.moderate(event, payload, function (answer) {
      $buttons.prop("disabled", false);
      if (self.target !== payload.user) {
        return;  // the panel moved on to someone else meanwhile
      }
      if (answer && answer.ok) {
        self.moderation(null, true);  // the room's notice says what happened
      } else {
        self.$moderation.find(".moderation-error")
          .text((answer && answer.error) || "That did not work, please try again.");
      }
    });
  };

  People.prototype.open = function (open) {
    this.$panel.toggleClass("open", open);
    this.$toggle.attr("aria-expanded", open ? "true" : "false");
  };

  chat.people = function (parts) {
    return new People(parts);
  };
})(jQuery);
