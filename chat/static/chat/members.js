/*
 * A private room's #members panel (the server writes it): kept current while
 * the page is open, when the room says a member was added or removed
 * (member_added, member_removed). For the room's managers a new member gets a
 * Remove form like the others' (a copy of one the server wrote: the same
 * action and CSRF token).
 *
 *   var members = d09Chat.members($("#members"));  // nothing to do without a panel
 *   members.added("carol");
 *   members.removed("bob");
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  function Members($panel) {
    this.$panel = $panel;
    this.$list = $panel.find("#member-list");
  }

  Members.prototype.item = function (name) {
    return this.$list.children(".member").filter(function () {
      return this.getAttribute("data-user") === name;
    });
  };

  Members.prototype.added = function (name) {
    if (!this.$list.length || this.item(name).length) {
      return;
    }
    var $item = $("<li class='member d-flex align-items-center gap-1'></li>").attr("data-user", name);
    $("<span class='member-name flex-grow-1 text-truncate'></span>").text(name).appendTo($item);
    var $form = this.$list.find(".member-remove").first();
    if ($form.length) {
      $form = $form.clone();
      $form.find("input[name=username]").val(name);
      $form.find("button").attr("aria-label", "Remove " + name);
      $form.appendTo($item);
    }
    var next = this.$list.children(".member").filter(function () {
      return this.getAttribute("data-user") > name;  // the server's order: by username
    })[0];
    if (next) {
      $item.insertBefore(next);
    } else {
      $item.appendTo(this.$list);
    }
    this.count();
  };

  Members.prototype.removed = function (name) {
    this.item(name).remove();
    this.count();
  };

  Members.prototype.count = function () {
    this.$panel.find("#members-title .badge").text(this.$list.children(".member").length);
  };

  chat.members = function ($panel) {
    return new Members($panel);
  };
})(jQuery);
