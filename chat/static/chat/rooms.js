/*
 * The room list (/chat/): the rooms the reader may see (#rooms: open rooms and
 * the private rooms they belong to) and their direct conversations (#dms,
 * newest first), each with how many people are in it (.online-count) and how
 * many messages the reader has not read there (.unread-count, absent when
 * none), kept live over the Socket.IO namespace /lobby (README, "Event API"):
 *
 *   rooms        [{room, name, kind,       every room's counts, on connecting
 *                 online, unread, newest,   (newest: the newest message id counted;
 *                 level}]                   level: "none" shows the room muted)
 *   online       {room, count}             a room's number of people changed
 *   activity     {room, id, user}          a new message in an open room: one more
 *                                          unread, unless the reader wrote it
 *                {room, id, user,          the same in a private or direct room
 *                 name, kind}              (the reader's own list only): a room not
 *                                          shown yet (the first message of a direct
 *                                          conversation) is added, with that one
 *                                          unread; a direct one goes to the top
 *   unread       {room, unread}            the reader read a room in some tab
 *   room_added   {room, name, kind, online, the reader became a member (a private
 *                 unread, newest}           room, a direct conversation): shown
 *   room_removed {room}                    the reader may no longer see it: gone
 *   notification_level {room, level}       the reader changed a room's level in
 *                                          some tab: "none" shows .room-muted
 *
 * Each room's item holds its state: data-unread ("" for a room the reader
 * never opened: nothing counts there) and data-newest (the newest message id
 * counted, so that no message counts twice). Items the page adds are built
 * as the server writes them (chat/templates/chat/index.html), names with
 * .text(), links with .attr().
 */
(function ($) {
  "use strict";

  var $rooms = $("#rooms");
  var $dms = $("#dms");
  var me = $rooms.attr("data-user");
  if (!$rooms.length || me === undefined) {
    return;  // nobody logged in: the lobby would refuse
  }

  /* A page's address from its pattern ("/chat/-/", "/chat/dm/-/") and a name. */
  function urlFor(pattern, name) {
    return String(pattern).replace(/-\/$/, encodeURIComponent(name) + "/");
  }

  function item(slug) {
    return $rooms.add($dms).children(".room-item").filter(function () {
      return this.getAttribute("data-room") === String(slug);
    });
  }

  function setOnline($item, count) {
    $item.find(".online-count").text(count);
    $item.find(".room-online").prop("hidden", false);
  }

  /* The unread count of a room: a number, or null where it never counts. */
  function unreadOf($item) {
    var value = $item.attr("data-unread");
    return value === "" || value === undefined ? null : Number(value);
  }

  function setUnread($item, count) {
    $item.attr("data-unread", count === null ? "" : String(count));
    var $badge = $item.children(".room-unread");
    if (!count) {
      $badge.remove();
      return;
    }
    if (!$badge.length) {
      $badge = $("<span class='room-unread badge rounded-pill text-bg-primary'></span>")
        .append("<span class='unread-count'></span>")
        .append($("<span class='visually-hidden'></span>").text(" unread"))
        .appendTo($item);
    }
    $badge.children(".unread-count").text(count);
  }

  /* Say so when a list is empty (#no-rooms, #no-dms), and not when it is not. */
  function showEmpty() {
    var noRooms = !$rooms.children(".room-item").length;
    var $noRooms = $("#no-rooms");
    if (noRooms && !$noRooms.length) {
      $("<li id='no-rooms' class='list-group-item text-body-secondary'></li>")
        .text("No room yet.").appendTo($rooms);
    } else if (!noRooms) {
      $noRooms.remove();
    }
    $("#no-dms").prop("hidden", !!$dms.children(".room-item").length);
  }

  /*
   * A room the list does not show yet ({room, name, kind}): its item, in its
   * place (#dms at the top; #rooms by name), as the server writes it.
   */
  function addItem(room) {
    var direct = room.kind === "direct";
    var name = String(room.name);
    var $item = $("<li class='list-group-item list-group-item-action room-item'></li>")
      .attr({ "data-room": String(room.room), "data-kind": String(room.kind), "data-unread": "" })
      .toggleClass("dm-item", direct);
    $("<a class='stretched-link'></a>").addClass(direct ? "dm-link" : "room-link")
      .attr("href", urlFor($rooms.attr(direct ? "data-direct-url" : "data-room-url"),
        direct ? name : room.room))
      .text(name).appendTo($item);
    if (room.kind === "private") {
      $("<span class='room-private badge text-bg-secondary'></span>").text("private")
        .appendTo($item);
    }
    $("<span class='room-online text-body-secondary small' hidden></span>")
      .append($("<span class='online-count'></span>").text("0"), " online")
      .appendTo($item);
    if (direct) {
      $dms.prepend($item);
    } else {
      var next = $rooms.children(".room-item").filter(function () {
        return $(this).children(".room-link").text().localeCompare(name) > 0;
      })[0];
      if (next) {
        $item.insertBefore(next);
      } else {
        $item.appendTo($rooms);
      }
    }
    showEmpty();
    return $item;
  }

  /* A room whose notification level is "none" shows "muted". */
  function setLevel($item, level) {
    if (typeof level !== "string") {
      return;
    }
    $item.attr("data-level", level);
    var $badge = $item.children(".room-muted");
    if (level !== "none") {
      $badge.remove();
    } else if (!$badge.length) {
      $("<span class='room-muted badge text-bg-light border'></span>").text("muted")
        .attr("title", "No notifications from this room").appendTo($item);
    }
  }

  /* A room's counts as `rooms` and `room_added` carry them. */
  function setCounts($item, room) {
    setLevel($item, room.level);
    if (typeof room.online === "number") {
      setOnline($item, room.online);
    }
    setUnread($item, typeof room.unread === "number" ? room.unread : null);
    // An activity at or below it (one still on its way) is in that count already.
    $item.attr("data-newest", typeof room.newest === "number" ? room.newest : 0);
  }

  function shown(room) {
    return room && room.room !== undefined && typeof room.name === "string" &&
      (room.kind === "open" || room.kind === "private" || room.kind === "direct");
  }

  var socket = $.socketio({ namespace: "/lobby" });
  // The list reads no room: messages that match a level are notified here too.
  window.d09Chat.notify(socket, { room: null });

  socket.on("rooms", function (list) {
    $.each(Array.isArray(list) ? list : [], function (_, room) {
      var $item = item(room.room);
      if (!$item.length && shown(room)) {
        $item = addItem(room);  // one that came after the page was written
      }
      if ($item.length) {
        setCounts($item, room);
      }
    });
  });

  socket.on("online", function (data) {
    var $item = item(data.room);
    if ($item.length) {
      setOnline($item, data.count);
    }
  });

  socket.on("activity", function (data) {
    if (!data || typeof data.id !== "number") {
      return;
    }
    var $item = item(data.room);
    if (!$item.length && shown(data) && data.kind !== "open") {
      // Only the members hear of it: it is theirs (the first message of a direct conversation).
      $item = addItem(data);
      setUnread($item, 0);
    }
    var newest = Number($item.attr("data-newest") || 0);
    if (!$item.length || data.id <= newest) {
      return;
    }
    $item.attr("data-newest", data.id);
    var unread = unreadOf($item);
    if (unread !== null && String(data.user) !== me) {
      setUnread($item, unread + 1);
    }
    if ($item.hasClass("dm-item")) {
      $dms.prepend($item);  // newest first
    }
  });

  socket.on("unread", function (data) {
    var $item = item(data.room);
    if ($item.length && typeof data.unread === "number") {
      setUnread($item, data.unread);
    }
  });

  socket.on("room_added", function (room) {
    if (!shown(room)) {
      return;
    }
    var $item = item(room.room);
    setCounts($item.length ? $item : addItem(room), room);
  });

  // The reader changed a room's level in some tab.
  socket.on("notification_level", function (data) {
    if (data && data.room !== undefined) {
      setLevel(item(data.room), data.level);
    }
  });

  socket.on("room_removed", function (data) {
    if (data && data.room !== undefined) {
      item(data.room).remove();
      showEmpty();
    }
  });

  $(window).on("pagehide", function () {
    socket.close();
  });
  $(window).on("pageshow", function (event) {
    if (event.originalEvent.persisted) {
      window.location.reload();  // counts kept in the back/forward cache are stale
    }
  });
})(jQuery);
