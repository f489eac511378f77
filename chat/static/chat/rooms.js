/*
 * The room list (/chat/): next to each room, how many people are in it
 * (.online-count) and how many messages the reader has not read there
 * (.unread-count, absent when none), kept live over the Socket.IO namespace
 * /lobby (README, "Event API"):
 *
 *   rooms    [{room, name, online, unread,   every room's counts, on connecting
 *             newest}]                        (newest: the newest message id counted)
 *   online   {room, count}                   a room's number of people changed
 *   activity {room, id, user}                a new message: one more unread,
 *                                            unless the reader wrote it
 *   unread   {room, unread}                  the reader read a room in some tab
 *
 * Each room's item holds its state: data-unread ("" for a room the reader
 * never opened: nothing counts there) and data-newest (the newest message id
 * counted, so that no message counts twice).
 */
(function ($) {
  "use strict";

  var $rooms = $("#rooms");
  var me = $rooms.attr("data-user");
  if (!$rooms.length || me === undefined) {
    return;  // nobody logged in: the lobby would refuse
  }

  function item(slug) {
    return $rooms.children(".room-item").filter(function () {
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

  var socket = $.socketio({ namespace: "/lobby" });

  socket.on("rooms", function (list) {
    $.each(Array.isArray(list) ? list : [], function (_, room) {
      var $item = item(room.room);
      if ($item.length) {
        setOnline($item, room.online);
        setUnread($item, typeof room.unread === "number" ? room.unread : null);
        // An activity at or below it (one still on its way) is in that count already.
        $item.attr("data-newest", typeof room.newest === "number" ? room.newest : 0);
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
    var $item = item(data.room);
    var newest = Number($item.attr("data-newest") || 0);
    if (!$item.length || typeof data.id !== "number" || data.id <= newest) {
      return;
    }
    $item.attr("data-newest", data.id);
    var unread = unreadOf($item);
    if (unread !== null && String(data.user) !== me) {
      setUnread($item, unread + 1);
    }
  });

  socket.on("unread", function (data) {
    var $item = item(data.room);
    if ($item.length && typeof data.unread === "number") {
      setUnread($item, data.unread);
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
