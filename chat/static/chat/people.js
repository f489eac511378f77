/*
 * Who is in the room: the #users list and, on narrow screens, the
 * #users-toggle button ("3 online") that opens and closes it.
 *
 *   var people = d09Chat.people({ $list: $("#users"), $toggle: $("#users-toggle"),
 *                                 $panel: $("#users-panel"), $counts: $(".users-count") });
 *   people.whole(["alice", "bob"], 1732700000000);  // a whole list and its version
 *   people.change("joined", "carol", 1732700000001); // false: a change was missed
 *   people.show([]);
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
    self.$toggle.on("click", function () {
      self.open(!self.$panel.hasClass("open"));
    });
    $(document).on("keydown", function (event) {
      if (event.key === "Escape" && self.$panel.hasClass("open")) {
        self.open(false);
        self.$toggle.trigger("focus");
      }
    });
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
    var $list = this.$list.empty();
    this.names = names || [];
    $.each(this.names, function (_, name) {
      $("<li></li>").text(name).appendTo($list);
    });
    this.$counts.text(this.names.length);
  };

  People.prototype.open = function (open) {
    this.$panel.toggleClass("open", open);
    this.$toggle.attr("aria-expanded", open ? "true" : "false");
  };

  chat.people = function (parts) {
    return new People(parts);
  };
})(jQuery);
