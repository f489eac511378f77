/*
 * Who is in the room: the #users list and, on narrow screens, the
 * #users-toggle button ("3 online") that opens and closes it.
 *
 *   var people = d09Chat.people({ $list: $("#users"), $toggle: $("#users-toggle"),
 *                                 $panel: $("#users-panel"), $counts: $(".users-count") });
 *   people.show(["alice", "bob"]);
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  function People(parts) {
    var self = this;
    $.extend(self, parts);
    self.names = [];
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
