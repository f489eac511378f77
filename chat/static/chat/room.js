/*
 * The room page: the wiring between the socket (socketio-shim.js) and the
 * parts of the page, each in its own file:
 *
 *   time.js        local times and day labels
 *   timeline.js    the lines of #messages: one per message id, in id order
 *   scroll.js      the scroll manager and the #new-messages button
 *   outbox.js      the reader's lines the server has not stored yet (sessionStorage)
 *   scrollback.js  older messages: #load-older, #history-start
 *   reading.js     read marks: "read" when the newest message is seen
 *   composer.js    #message-input, #send-button, #message-error
 *   people.js      #users and its "3 online" toggle on phones
 *   viewport.js    phones: the room fits above the on-screen keyboard
 *
 * The page's state is `state`, and how the page looks for each phase of the
 * connection is decided in one place, enter(). Every line the reader types
 * leaves through send(), which puts it in the outbox and shows it pending at
 * once; transmit() sends an outbox entry whenever the socket is connected (at
 * once, and again for every entry still pending at each connect: same
 * client_message_id, so the server stores it once). window.chatReady is true
 * once the socket is connected and the history shown.
 */
(function ($) {
  "use strict";

  var chat = window.d09Chat;
  var $chat = $("#chat");
  if (!$chat.length) {
    return;
  }

  var state = {
    room: String($chat.attr("data-room")),
    me: String($chat.attr("data-user")),
    phase: "connecting",   // connecting -> connected -> ready; reconnecting; ended
    reconnecting: null,    // what the status line says about the next attempt
    endedReason: null,     // why the server ended the session, when it said so
    historyShown: false,   // the join history is in; a later history is what was missed
    unseenWhileHidden: 0,  // new messages while the tab is hidden, for the title
    title: document.title
  };

  var $status = $("#connection-status");
  var $box = $("#messages");
  var timeline = chat.timeline($box, { me: state.me });
  var scroll = chat.scroll($box, $("#new-messages"));
  var outbox = chat.outbox(state.me, state.room);
  var people = chat.people({
    $list: $("#users"), $toggle: $("#users-toggle"), $panel: $("#users-panel"),
    $counts: $(".users-count")
  });
  var composer = chat.composer({
    $form: $("#message-form"), $input: $("#message-input"), $send: $("#send-button"),
    $error: $("#message-error"), onSend: send
  });
  var socket;  // below, once every handler it needs exists

  function ready() {
    return state.phase === "ready";
  }

  var scrollback = chat.scrollback({
    $box: $box, $button: $("#load-older"), $start: $("#history-start"),
    timeline: timeline, scroll: scroll, ready: ready,
    ask: function (before, limit, done) {
      socket.emit("older", { before: before, limit: limit }, done);
    }
  });
  var reading = chat.reading({
    $box: $box, timeline: timeline, ready: ready,
    send: function (id, done) {
      socket.emit("read", { id: id }, done);
    }
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

  /* What the status line promises about the reader's lines while offline. */
  function willBeSent() {
    var waiting = outbox.count("pending");
    if (!waiting) {
      return "Messages you send now will be sent once it is back.";
    }
    return (waiting === 1 ? "1 message" : waiting + " messages") +
      " will be sent once it is back.";
  }

  function showStatus() {
    if (state.phase === "reconnecting") {
      setStatus((state.reconnecting || "Connection lost, reconnecting...") + " " + willBeSent());
    } else if (state.phase === "connecting" && outbox.count("pending")) {
      setStatus("Connecting... " + willBeSent());
    } else if (state.phase !== "ended") {
      setStatus("");
    }
  }

  /* The one place the page follows the connection. */
  function enter(phase, detail) {
    state.phase = phase;
    window.chatReady = phase === "ready";
    // The reader may type on while the page (re)connects: lines wait in the outbox.
    composer.enable(phase !== "ended");
    if (phase === "reconnecting") {
      state.reconnecting = detail || null;
    }
    if (phase === "ended") {
      people.show([]);
      var $login = $("<a></a>").attr("href", $chat.data("account-url")).text("Log in again");
      var $retry = $("<a href=''></a>").text("Reload the page");
      setStatus(state.endedReason || detail, $("<span></span>").append($login, " · ", $retry),
        "danger");
    } else {
      showStatus();
    }
  }

  /* Messages from the server, history or live; returns how many were new. */
  function showMessages(list) {
    var added = 0;
    scroll.add(function () {
      $.each(list, function (_, message) {
        if (message && message.client_message_id && String(message.user) === state.me) {
          outbox.remove(message.client_message_id);  // the server has it: never send it again
        }
        var shown = timeline.upsert(message);
        added += shown && shown.isNew ? 1 : 0;
      });
      return added;
    });
    showStatus();
    reading.check();
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

  /*
   * The reader's own line: into the outbox, shown pending at once (the view
   * goes to the bottom to show it), the composer cleared, then sent if the
   * socket is connected (else at the next connect).
   */
  function send(text, done) {
    var entry = outbox.add(text);
    scroll.add(function () {
      timeline.unsent(entry);
      return 0;
    }, { force: true });
    done({ ok: true });
    showStatus();
    transmit(entry);
  }

  /* Send one pending outbox entry; its ack settles it. */
  function transmit(entry) {
    if (!socket.connected || entry.sending || entry.state !== "pending") {
      return;
    }
    var cid = entry.client_message_id;
    entry.sending = true;
    socket.emit("message", { text: entry.text, client_message_id: cid }, function (answer) {
      entry.sending = false;
      if (!outbox.get(cid)) {
        return;  // its broadcast or the history settled it already, or it was discarded
      }
      if (answer && answer.ok && typeof answer.id === "number") {
        outbox.remove(cid);
        scroll.add(function () {
          timeline.confirm(cid, answer.id, entry);
          return 0;
        });
        reading.check();
      } else if (answer && answer.lost) {
        // Stored or not, nobody knows: it stays pending and goes again, with the
        // same id, at the next connect.
      } else {
        var error = (answer && answer.error) || "The message could not be sent.";
        outbox.update(cid, { state: "failed", error: error });
        scroll.add(function () {
          timeline.unsent(entry);
          return 0;
        });
        composer.showError(error);
      }
      showStatus();
    });
  }

  /* Every pending line, in the order typed (after a reconnect, a reload). */
  function flush() {
    $.each(outbox.entries(), function (_, entry) {
      transmit(entry);
    });
  }

  function entryOf(button) {
    return outbox.get($(button).closest(".message").attr("data-client-id"));
  }

  $box.on("click", ".message.failed .retry", function () {
    var entry = entryOf(this);
    if (entry) {
      outbox.update(entry.client_message_id, { state: "pending", error: null });
      timeline.unsent(entry);
      composer.showError("");
      composer.$input.trigger("focus");
      showStatus();
      transmit(entry);
    }
  });

  $box.on("click", ".message.failed .discard", function () {
    var entry = entryOf(this);
    if (entry) {
      outbox.remove(entry.client_message_id);
      timeline.forget(entry.client_message_id);
      composer.showError("");
      composer.$input.trigger("focus");
    }
  });

  function showNotice(text) {
    scroll.add(function () {
      timeline.notice(text);
    });
  }

  // What a reload left unsent: shown at once, sent at the connect.
  scroll.add(function () {
    $.each(outbox.entries(), function (_, entry) {
      timeline.unsent(entry);
    });
    return 0;
  });

  enter("connecting");

  socket = $.socketio({
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
    flush();
  });

  socket.on("history", function (list, meta) {
    var entering = !state.historyShown;
    list = Array.isArray(list) ? list : [];
    // Where unread messages start, for a reader coming back to the room.
    var lastRead = entering && meta && typeof meta.last_read === "number" ?
      meta.last_read : null;
    var added = showMessages(list);
    if (!entering) {
      countWhileHidden(added);  // what was said while the page was reconnecting
    }
    state.historyShown = true;
    if (entering) {
      scrollback.entered(list.length, lastRead);
    } else {
      scrollback.update();
    }
    // "New messages" above the first unread one, and the view opened there.
    var $divider = lastRead === null ? null : timeline.markUnread(lastRead);
    if ($divider) {
      scroll.openAt($divider[0]);
    }
    enter("ready");
    reading.check();
  });

  // More was missed than the server fills in: what follows replaces the lines
  // shown (rather than leaving a hole in the middle of them).
  socket.on("history_reset", function () {
    timeline.clear();
    scrollback.reset();
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
