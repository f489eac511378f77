/*
 * The room page: the wiring between the socket (socketio-shim.js) and the
 * parts of the page, each in its own file:
 *
 *   time.js        local times and day labels
 *   mentions.js    "@name" highlighted in messages, "@" completion in the composer
 *   timeline.js    the lines of #messages: one per message id, in id order
 *   scroll.js      the scroll manager and the #new-messages button
 *   outbox.js      the reader's lines the server has not stored yet (sessionStorage)
 *   scrollback.js  older messages: #load-older, #history-start
 *   reading.js     read marks: "read" when the newest message is seen
 *   jump.js        a room opened at a message (?at=<id>, a search result)
 *   editing.js     edit in place, delete after a question
 *   composer.js    #message-input, #send-button, #message-error, typing news
 *   typing.js      #typing: who else is typing
 *   people.js      #users and its "3 online" toggle on phones; staff: muting
 *   members.js     a private room's #members panel, kept current
 *   viewport.js    phones: the room fits above the on-screen keyboard
 *   notify.js      #notify: the room's notification level, desktop notifications
 *
 * The page's state is `state`, and how the page looks for each phase of the
 * connection is decided in one place, enter(). Every line the reader types
 * leaves through send(), which puts it in the outbox and shows it pending at
 * once; pump() sends the outbox's pending entries whenever the socket is
 * connected, one at a time in the order typed (at once, and again for every
 * entry still pending at each connect: same client_message_id, so the server
 * stores it once; a refusal that passes by itself, `retry_after`, holds the
 * line and those after it for that long). The page reconnects with `since`,
 * the greatest change number (`seq`) it has seen, and applies the changes it
 * missed by id. window.chatReady is true once the socket is connected and the
 * history shown.
 *
 * Names (#users, message authors) link to the direct conversation with that
 * user (data-direct-url; not from a direct conversation). A private room's
 * member_added and member_removed are notices ("bob was added by alice"). A
 * reader removed from the room is told so (`session_ended` with `scope`
 * "room") and sent to the room list, not to log in again.
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
    kind: String($chat.attr("data-kind") || "open"),  // open, private, direct
    phase: "connecting",   // connecting -> connected -> ready; reconnecting; ended
    reconnecting: null,    // what the status line says about the next attempt
    restarting: false,     // the server said it is stopping (a deploy)
    endedReason: null,     // why the server ended the session, when it said so
    endedRoomOnly: false,  // ...and it was this room alone (removed from it): the session is fine
    historyShown: false,   // the join history is in; a later history is what was missed
    seq: null,             // the greatest change number seen (history and room events)
    staff: $chat.attr("data-staff") === "true",
    sending: null,         // the outbox entry on its way (one at a time, in the order typed)
    holdUntil: 0,          // a refusal said "retry after": nothing leaves before then
    holdTimer: null,
    unseenWhileHidden: 0,  // new messages while the tab is hidden, for the title
    title: document.title
  };

  /* The page of the direct conversation with `name` (none from a direct conversation). */
  var directUrl = state.kind === "direct" ? null : function (name) {
    return String($chat.attr("data-direct-url")).replace(/-\/$/, encodeURIComponent(name) + "/");
  };

  var $status = $("#connection-status");
  var $box = $("#messages");
  var timeline = chat.timeline($box, {
    me: state.me, staff: state.staff, editMinutes: Number($chat.attr("data-edit-minutes")) || 15,
    directUrl: directUrl
  });
  var scroll = chat.scroll($box, $("#new-messages"));
  var outbox = chat.outbox(state.me, state.room);
  var socket;  // below, once every handler it needs exists

  /* Emit now if the room is connected; else answer at once (nothing is queued). */
  function emitNow(event, payload, done) {
    if (!socket.connected) {
      done({ ok: false, error: "Not connected to the chat: try again once it is back." });
      return;
    }
    socket.emit(event, payload, done);
  }

  var people = chat.people({
    $list: $("#users"), $toggle: $("#users-toggle"), $panel: $("#users-panel"),
    $counts: $(".users-count"), me: state.me, staff: state.staff, directUrl: directUrl,
    $moderation: $("#moderation"), moderate: emitNow
  });
  var typing = chat.typing($("#typing"), { me: state.me });
  var members = chat.members($("#members"));
  var $input = $("#message-input");
  var composer = chat.composer({
    $form: $("#message-form"), $input: $input, $send: $("#send-button"),
    $error: $("#message-error"), onSend: send,
    onTyping: function (typing) {
      if (socket.connected) {
        socket.emit("typing", { typing: typing }, $.noop);  // a refusal (too fast) changes nothing
      }
    },
    completer: chat.mentions.completer({
      $input: $input, $list: $("#mention-list"), me: state.me,
      names: function () { return people.names; }
    })
  });
  chat.editing({
    $box: $box, timeline: timeline, $composer: $input,
    edit: function (id, text, done) {
      emitNow("edit", { id: id, text: text }, done);
    },
    remove: function (id, done) {
      emitNow("delete", { id: id }, function (answer) {
        if (answer && answer.ok) {
          // At once, without waiting for the room's message_deleted.
          scroll.add(function () {
            timeline.deleted(id, null);
            return 0;
          });
        }
        done(answer);
      });
    },
    showError: function (text) {
      composer.showError(text);
    }
  });

  var uploads = chat.uploads({
    socket: function () { return socket; }, timeline: timeline, scroll: scroll, me: state.me,
    // The composer's text is the caption of the (first) file sent with it.
    takeCaption: function () {
      var caption = String($input.val() || "").trim();
      $input.val("").trigger("input");
      return caption;
    },
    showError: function (text) {
      composer.showError(text);
    }
  });
  uploads.bind({
    $box: $box, $button: $("#attach-button"), $picker: $("#file-input"), $input: $input,
    $drop: $(".chat-main")
  });

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
  var jump = chat.jump({
    target: $chat.attr("data-at") ? Number($chat.attr("data-at")) : null,
    $box: $box, timeline: timeline, scroll: scroll, scrollback: scrollback,
    ask: function (event, payload, done) {
      emitNow(event, payload, done);
    },
    live: function (held) {
      showMessages(held, true);
      scrollback.update();
    }
  });
  var reading = chat.reading({
    $box: $box, timeline: timeline,
    // Opened at a message: nothing is read until the live end (jump.js).
    ready: function () {
      return ready() && !jump.active;
    },
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
    $("#attach-button").prop("disabled", phase === "ended");
    if (phase === "reconnecting") {
      state.reconnecting = detail || null;
    }
    if (phase === "ended" && state.endedRoomOnly) {
      // Removed from this room: the session itself is fine, the other rooms are there.
      people.show([]);
      var $list = $("<a></a>").attr("href", $chat.attr("data-rooms-url")).text("Go to the room list");
      setStatus(state.endedReason || detail, $list, "danger");
    } else if (phase === "ended") {
      people.show([]);
      var $login = $("<a></a>").attr("href", $chat.data("account-url")).text("Log in again");
      var $retry = $("<a href=''></a>").text("Reload the page");
      setStatus(state.endedReason || detail, $("<span></span>").append($login, " · ", $retry),
        "danger");
    } else {
      showStatus();
    }
  }

  /* The greatest change number seen: where a reconnect asks the room to go on from. */
  function noteSeq(message) {
    if (message && typeof message.seq === "number") {
      state.seq = state.seq === null ? message.seq : Math.max(state.seq, message.seq);
    }
  }

  /*
   * Messages from the server, history or live; returns how many were new.
   * `replayed`: the changes missed while reconnecting (`since`), applied as a
   * page that never left saw them.
   */
  function showMessages(list, replayed) {
    var added = 0;
    scroll.add(function () {
      $.each(list, function (_, message) {
        noteSeq(message);
        if (message && message.client_message_id && String(message.user) === state.me) {
          outbox.remove(message.client_message_id);  // the server has it: never send it again
        }
        if (jump.active) {
          jump.hold(message);  // below the context: shown at the live end
          return;
        }
        var shown = replayed ? timeline.apply(message) : timeline.upsert(message);
        added += shown && shown.isNew && !message.deleted ? 1 : 0;
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
      notify.seen();  // the room is read: its notification goes
    }
  });

  /*
   * The reader's own line: into the outbox, shown pending at once (the view
   * goes to the bottom to show it), the composer cleared, then sent when its
   * turn comes (at once if the socket is connected and nothing is before it).
   */
  function send(text, done) {
    jump.toLiveEnd();  // the reader's line goes below the newest messages
    var entry = outbox.add(text);
    scroll.add(function () {
      timeline.unsent(entry);
      return 0;
    }, { force: true });
    done({ ok: true });
    showStatus();
    pump();
  }

  /*
   * Send the first pending outbox entry, if the socket is connected and none
   * is on its way: one at a time, so that lines are stored in the order typed
   * even when one of them has to wait (`retry_after`). Each ack sends the next.
   */
  function pump() {
    if (!socket.connected || state.sending) {
      return;
    }
    var wait = state.holdUntil - Date.now();
    if (wait > 0) {
      clearTimeout(state.holdTimer);
      state.holdTimer = setTimeout(pump, wait);
      return;
    }
    var next = $.grep(outbox.entries(), function (entry) {
      return entry.state === "pending";
    })[0];
    if (next) {
      transmit(next);
    }
  }

  /* Send one pending outbox entry; its ack settles it. */
  function transmit(entry) {
    var cid = entry.client_message_id;
    state.sending = cid;
    socket.emit("message", { text: entry.text, client_message_id: cid }, function (answer) {
      state.sending = null;
      if (answer && answer.lost) {
        // Stored or not, nobody knows: it stays pending and goes again, with the
        // same id, at the next connect.
        showStatus();
        return;
      }
      if (!outbox.get(cid)) {
        pump();  // its broadcast or the history settled it already, or it was discarded
        return;
      }
      if (answer && answer.ok && typeof answer.id === "number") {
        outbox.remove(cid);
        scroll.add(function () {
          timeline.confirm(cid, answer.id, entry);
          return 0;
        });
        reading.check();
      } else if (answer && typeof answer.retry_after === "number") {
        // It passes by itself (too fast, the database or Redis busy): the same
        // line again after that long, and those typed after it behind it.
        state.holdUntil = Date.now() + Math.max(answer.retry_after, 0.1) * 1000;
        outbox.update(cid, { error: answer.error || null });
        scroll.add(function () {
          timeline.unsent(entry);
          return 0;
        });
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
      pump();
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
      pump();
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
      // Coming back: every change after the last one seen (posted, edited,
      // deleted). A room that showed nothing yet goes on from its start.
      if (state.seq !== null || state.historyShown) {
        auth.since = state.seq === null ? 0 : state.seq;
      }
      return auth;
    }
  });

  var notify = chat.notify(socket, {
    room: state.room, $controls: $("#notify"), vapidKey: String($chat.attr("data-vapid-key") || "")
  });

  /* Show message `id` if the page holds it (a click on a notification of this
   * room); false when it does not (the notification then opens ?at=<id>). */
  chat.showMessage = function (id) {
    var $line = $box.children(".message").filter(function () {
      return this.getAttribute("data-id") === String(id);
    });
    if (!$line.length) {
      return false;
    }
    $box.children(".message-target").removeClass("message-target").removeAttr("aria-current");
    $line.addClass("message-target").attr("aria-current", "true");
    scroll.openAt($line[0]);
    return true;
  };

  socket.on("connect", function () {
    state.restarting = false;
    enter("connected");
    pump();
    uploads.resume();
  });

  socket.on("history", function (list, meta) {
    var entering = !state.historyShown;
    list = Array.isArray(list) ? list : [];
    if (entering && jump.active) {
      openAtTarget(list, meta);
      return;
    }
    // Where unread messages start, for a reader coming back to the room.
    var lastRead = entering && meta && typeof meta.last_read === "number" ?
      meta.last_read : null;
    var added = showMessages(list, !entering);
    // The room's change number when this history was read: the next reconnect
    // starts there, even if no message sent carried a greater one. The server's
    // number wins, also when it is lower than one seen before (a database
    // restored or failed over): every change the page will miss comes after it.
    if (meta && typeof meta.seq === "number") {
      state.seq = meta.seq;
    }
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
    jump.start();  // the context, if an earlier answer was lost
    reading.check();
  });

  /* Opened at a message: the join history gives the room's change number; the
   * context comes from jump.js instead of its lines. */
  function openAtTarget(list, meta) {
    $.each(list, function (_, message) {
      noteSeq(message);
      if (message && message.client_message_id && String(message.user) === state.me) {
        outbox.remove(message.client_message_id);
      }
    });
    if (meta && typeof meta.seq === "number") {
      state.seq = meta.seq;
    }
    state.historyShown = true;
    enter("ready");
    jump.start();
  }

  // More was missed than the server fills in: what follows replaces the lines
  // shown (rather than leaving a hole in the middle of them).
  socket.on("history_reset", function () {
    jump.cancel();
    timeline.clear();
    scrollback.reset();
  });

  socket.on("message", function (message) {
    if (message && message.user !== undefined) {
      typing.stop(message.user);  // they sent what they typed
    }
    countWhileHidden(showMessages([message]));
  });

  // An edit: the whole message again, "(edited)".
  socket.on("message_updated", function (message) {
    showMessages([message]);
  });

  socket.on("message_deleted", function (data) {
    if (data && typeof data.id === "number") {
      noteSeq(data);
      scroll.add(function () {
        timeline.deleted(data.id, typeof data.seq === "number" ? data.seq : null);
        return 0;
      });
    }
  });

  socket.on("typing", function (data) {
    if (data && typeof data.user === "string") {
      typing.news(data.user, !!data.typing);
    }
  });

  // Moderation: a notice for everyone, in the reader's local time.
  socket.on("muted", function (data) {
    if (data && data.user !== undefined && data.until) {
      showNotice(data.user + " was muted" + (data.by ? " by " + data.by : "") + " until " +
        chat.time.until(new Date(data.until)));
    }
  });

  socket.on("unmuted", function (data) {
    if (data && data.user !== undefined) {
      showNotice(data.user + " can write again");
    }
  });

  // A private room's members changed: a notice, and the #members panel follows.
  socket.on("member_added", function (data) {
    if (data && typeof data.user === "string") {
      showNotice(data.user + " was added" + (data.by ? " by " + data.by : ""));
      members.added(data.user);
    }
  });

  socket.on("member_removed", function (data) {
    if (data && typeof data.user === "string") {
      showNotice(data.user + " was removed" + (data.by ? " by " + data.by : ""));
      members.removed(data.user);
    }
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
    if (kind === "left") {
      typing.stop(data.user);
    }
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
    typing.clear();  // nobody says when they stop while the page cannot hear
    enter("reconnecting");
  });

  socket.on("reconnecting", function (attempt, delay) {
    var seconds = Math.ceil(delay / 1000);
    if (state.restarting) {
      enter("reconnecting", "The server is restarting, back in " + seconds + " s...");
    } else {
      enter("reconnecting", "Connection lost, reconnecting... (attempt " + attempt + ", in " +
        seconds + " s)");
    }
  });

  // A deploy: the server closes next and gave this page its turn to come back.
  socket.on("server_restart", function () {
    state.restarting = true;
  });

  // The server says why before it closes a session (logout in another tab...;
  // `scope` "room": the reader was removed from this room, the session goes on).
  socket.on("session_ended", function (data) {
    state.endedReason = data && data.reason;
    state.endedRoomOnly = !!(data && data.scope === "room");
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
