/*
 * The room page: messages, notices and the connected-user list, live over
 * Socket.IO (see socketio-shim.js). Everything users typed is inserted as text.
 *
 * window.chatReady is true once the socket is connected and the history shown.
 */
(function ($) {
  "use strict";

  var $chat = $("#chat");
  if (!$chat.length) {
    return;
  }
  var room = String($chat.data("room"));
  var $messages = $("#messages");
  var $users = $("#users");
  var $form = $("#message-form");
  var $input = $("#message-input");
  var $send = $("#send-button");
  var $error = $("#message-error");
  var $status = $("#connection-status");

  var newestId = null;   // newest message shown: a reconnect asks for what came after it
  var shownIds = {};     // a message is shown once, whatever the server resends
  var sending = false;

  window.chatReady = false;

  function scrollToNewest() {
    $messages.scrollTop($messages.prop("scrollHeight"));
  }

  function addLine($line) {
    $messages.append($line);
    scrollToNewest();
  }

  function showMessage(message) {
    if (!message || typeof message.id !== "number" || shownIds[message.id]) {
      return;
    }
    shownIds[message.id] = true;
    var late = newestId !== null && message.id < newestId;
    newestId = newestId === null ? message.id : Math.max(newestId, message.id);
    var $line = $("<div class='message'></div>").attr("data-id", message.id);
    $("<span class='author'></span>").text(message.user).appendTo($line);
    $("<span class='text'></span>").text(message.text).appendTo($line);
    if (message.created) {
      $line.attr("title", new Date(message.created).toLocaleString());
    }
    if (late) {
      insertInOrder($line, message.id);
    } else {
      addLine($line);
    }
  }

  /* A message resent after a server-side hiccup goes where its id says: the
     order of the room is the database's, whatever order packets took. */
  function insertInOrder($line, id) {
    var $next = $messages.children(".message").filter(function () {
      return Number($(this).attr("data-id")) > id;
    }).first();
    if ($next.length) {
      $line.insertBefore($next);
    } else {
      addLine($line);
    }
  }

  function showNotice(text, isError) {
    addLine($("<div class='notice'></div>").toggleClass("error", !!isError).text(text));
  }

  function showUsers(names) {
    $users.empty();
    $.each(names || [], function (_, name) {
      $("<li></li>").text(name).appendTo($users);
    });
  }

  function setStatus(text, $extra) {
    $status.empty().prop("hidden", !text);
    if (text) {
      $status.text(text);
      if ($extra) {
        $status.append(" ", $extra);
      }
    }
  }

  function setInputEnabled(enabled) {
    $input.prop("disabled", !enabled);
    $send.prop("disabled", !enabled || sending);
  }

  var socket = $.socketio({
    auth: function () {
      var auth = { room: room };
      if (newestId !== null) {
        auth.after = newestId;
      }
      return auth;
    }
  });

  socket.on("connect", function () {
    setStatus("");
    setInputEnabled(true);
  });

  socket.on("history", function (list) {
    $.each(list || [], function (_, message) {
      showMessage(message);
    });
    window.chatReady = true;
  });

  socket.on("message", showMessage);

  socket.on("joined", function (data) {
    showNotice(data.user + " has joined the chat");
  });

  socket.on("left", function (data) {
    showNotice(data.user + " has left the chat");
  });

  socket.on("users", showUsers);

  socket.on("disconnect", function () {
    window.chatReady = false;
    setInputEnabled(false);
  });

  socket.on("reconnecting", function (attempt, delay) {
    window.chatReady = false;
    setInputEnabled(false);
    setStatus("Connection lost, reconnecting... (attempt " + attempt + ", in " +
      Math.ceil(delay / 1000) + " s)");
  });

  // The server says why before it closes a session (logout in another tab...).
  var endedReason = null;
  socket.on("session_ended", function (data) {
    endedReason = data && data.reason;
  });

  function refusal(message) {
    message = endedReason || message;
    window.chatReady = false;
    setInputEnabled(false);
    showUsers([]);
    var $login = $("<a></a>").attr("href", $chat.data("account-url")).text("Log in again");
    var $retry = $("<a href=''></a>").text("Reload the page");
    setStatus(message, $("<span></span>").append($login, " · ", $retry));
    $status.removeClass("alert-warning").addClass("alert-danger");
  }

  socket.on("connect_error", refusal);
  socket.on("server_disconnect", refusal);

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

  $form.on("submit", function (event) {
    event.preventDefault();
    var text = $input.val();
    if (sending || !$.trim(text)) {
      return;
    }
    sending = true;
    $error.text("");
    $send.prop("disabled", true);
    socket.emit("message", { text: text }, function (answer) {
      sending = false;
      setInputEnabled(socket.connected);
      if (answer && answer.ok) {
        // Keep anything typed while the message was on its way.
        if ($input.val() === text) {
          $input.val("");
        }
      } else {
        $error.text((answer && answer.error) || "The message could not be sent.");
      }
      $input.trigger("focus");
    });
  });
})(jQuery);
