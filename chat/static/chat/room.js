/*
 * The room page: the wiring between the socket (socketio-shim.js) and the
 * parts of the page, each in its own file:
 *
 *   time.js      local times and day labels
 *   timeline.js  the lines of #messages: one per message id, in id order
 *   scroll.js    the scroll manager and the #new-messages button
 *   composer.js  #message-input, #send-button, #message-error
 *   people.js    #users and its "3 online" toggle on phones
 *   viewport.js  phones: the room fits above the on-screen keyboard
 *
 * The page's state is `state`, and how the page looks for each phase of the
 * connection is decided in one place, enter(). window.chatReady is true once
 * the socket is connected and the history shown.
 */
(function ($) {
  "use strict";

  var chat = window.d09Chat;
  var $chat = $("#chat");
  if (!$chat.length) {
    return;
  }

  var state = {
    room: String($chat.data("room")),
    phase: "connecting",   // connecting -> connected -> ready; reconnecting; ended
    endedReason: null,     // why the server ended the session, when it said so
    historyShown: false,   // the join history is in; a later history is what was missed
    unseenWhileHidden: 0,  // new messages while the tab is hidden, for the title
    title: document.title
  };

  var $status = $("#connection-status");
  var timeline = chat.timeline($("#messages"));
  var scroll = chat.scroll($("#messages"), $("#new-messages"));
  var people = chat.people({
    $list: $("#users"), $toggle: $("#users-toggle"), $panel: $("#users-panel"),
    $counts: $(".users-count")
  });
  var composer = chat.composer({
    $form: $("#message-form"), $input: $("#message-input"), $send: $("#send-button"),
    $error: $("#message-error"), onSend: send
  });

  window.chatReady = false;

  function setStatus(text, $extra, level) {
    $status.empty().prop("hidden", !text)
      .toggleClass("alert-danger", level === "danger")
      .toggleClass("alert-warning", level !== "danger");
    if (text) {
      $status.text(text);
      if ($extra) {
        $status.append(" ", $extra);
      }
    }
  }

  /* The one place the page follows the connection. */
  function enter(phase, detail) {
    state.phase = phase;
    window.chatReady = phase === "ready";
    composer.enable(phase === "connected" || phase === "ready");
    if (phase === "reconnecting") {
      setStatus(detail || "Connection lost, reconnecting...");
    } else if (phase === "ended") {
      people.show([]);
      var $login = $("<a></a>").attr("href", $chat.data("account-url")).text("Log in again");
      var $retry = $("<a href=''></a>").text("Reload the page");
      setStatus(state.endedReason || detail, $("<span></span>").append($login, " · ", $retry),
        "danger");
    } else {
      setStatus("");
    }
  }

  /* Messages from the server, history or live; returns how many were new. */
  function showMessages(list) {
    var added = 0;
    scroll.add(function () {
      $.each(list, function (_, message) {
        var shown = timeline.upsert(message);
        added += shown && shown.isNew ? 1 : 0;
      });
      return added;
    });
    return added;
  }

  function countWhileHidden(count) {
    if (document.hidden && count) {
      state.unseenWhileHidden += count;
      document.title = "(" + state.unseenWhileHidden + ") " + state.title;
    }
  }

  $(document).on("visibilitychange", function () {
    if (!document.hidden) {
      state.unseenWhileHidden = 0;
      document.title = state.title;
    }
  });

  /* The reader's own message: the view goes to the bottom to show it. */
  function send(text, done) {
    scroll.toBottom();
    socket.emit("message", { text: text }, function (answer) {
      done(answer);
      if (answer && answer.ok) {
        scroll.toBottom();
      }
    });
  }

  function showNotice(text) {
    scroll.add(function () {
      timeline.notice(text);
    });
  }

  var socket = $.socketio({
    auth: function () {
      var auth = { room: state.room };
      if (timeline.newestId() !== null) {
        auth.after = timeline.newestId();
      }
      return auth;
    }
  });

  socket.on("connect", function () {
    enter("connected");
  });

  socket.on("history", function (list) {
    var added = showMessages(list || []);
    if (state.historyShown) {
      countWhileHidden(added);  // what was said while the page was reconnecting
    }
    state.historyShown = true;
    enter("ready");
  });

  // More was missed than the server fills in: what follows replaces the lines
  // shown (rather than leaving a hole in the middle of them).
  socket.on("history_reset", function () {
    timeline.clear();
  });

  socket.on("message", function (message) {
    countWhileHidden(showMessages([message]));
  });

  /* The whole list again, when a change was missed (README, "Event API"). */
  function askForUsers() {
    socket.emit("users", {}, function (answer) {
      if (answer && answer.ok) {
        people.whole(answer.users, answer.version);
      }
    });
  }

  /* A user joined or left: the notice, and the list follows by version. */
  function presenceChange(kind, data) {
    showNotice(data.user + (kind === "joined" ? " has joined the chat" : " has left the chat"));
    return people.change(kind, data.user, data.version);
  }

  socket.on("joined", function (data) {
    if (!presenceChange("joined", data)) {
      askForUsers();
    }
  });

  socket.on("left", function (data) {
    if (!presenceChange("left", data)) {
      askForUsers();
    }
  });

  // A busy room's notices, gathered: the same changes, in order.
  socket.on("presence", function (data) {
    var complete = true;
    $.each((data && data.changes) || [], function (_, change) {
      complete = presenceChange(change.event, change) && complete;
    });
    if (!complete) {
      askForUsers();
    }
  });

  socket.on("users", function (names, meta) {
    people.whole(names, meta && meta.version);
  });

  socket.on("disconnect", function () {
    enter("reconnecting");
  });

  socket.on("reconnecting", function (attempt, delay) {
    enter("reconnecting", "Connection lost, reconnecting... (attempt " + attempt + ", in " +
      Math.ceil(delay / 1000) + " s)");
  });

  // The server says why before it closes a session (logout in another tab...).
  socket.on("session_ended", function (data) {
    state.endedReason = data && data.reason;
  });

  socket.on("connect_error", function (message) {
    enter("ended", message);
  });
  socket.on("server_disconnect", function (message) {
    enter("ended", message);
  });

  // Leaving the page must leave the room at once, even when the browser keeps
  // the page alive in its back/forward cache; coming back starts afresh.
  $(window).on("pagehide", function () {
    socket.close();
  });
  $(window).on("pageshow", function (event) {
    if (event.originalEvent.persisted) {
      window.location.reload();
    }
  });
})(jQuery);
