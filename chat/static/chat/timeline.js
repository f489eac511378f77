/*
 * The timeline: the lines of #messages.
 *
 *   var timeline = d09Chat.timeline($("#messages"), { me: "alice", staff: false,
 *                                                     editMinutes: 15, directUrl: fn });
 *   timeline.upsert(message)   // a message object from the server -> {$line, isNew}
 *   timeline.apply(message)    // the same for a change replayed on reconnect (`since`)
 *   timeline.deleted(id, seq)  // message_deleted: the line becomes a placeholder
 *   timeline.unsent(entry)     // the reader's own line not stored yet: pending or failed
 *                              // (an entry with `upload` {name, size, sent}: a file on its way)
 *   timeline.confirm(cid, id)  // the server stored that line as message `id`
 *   timeline.forget(cid)       // a failed line the reader discarded
 *   timeline.notice(text)      // "bob has joined the chat", with the time it arrived
 *   timeline.markUnread(id)    // the "New messages" divider after message `id`
 *   timeline.newestId(), timeline.oldestId(), timeline.line(id)
 *   timeline.clear()           // forget every stored line (the server said to start afresh)
 *
 * One line per message id: a message shown again (a resend, an edit, a
 * delete) is re-rendered in place by render(), the one function that turns a
 * message object into a `.message` line, pending, failed and deleted ones
 * included, with the controls the reader may use on it (edit: their own
 * message within `editMinutes` of its time; delete: their own, or any for
 * staff). A line keeps the `seq` of the state it shows: an older state of it
 * (a broadcast that took longer than the history) never replaces a newer one,
 * and a deleted line stays deleted. Lines are ordered by id, the database's
 * order, in place(); the reader's lines that the server has not stored yet
 * (`.pending`, `.failed`; keyed by their client_message_id) stay below them,
 * in the order typed, until their broadcast, the history or their ack gives
 * them an id. Around every line it adds, tidy() keeps the derived marks
 * right: a `.day-separator` before the first line of each local day, and
 * `.continued` on a message that follows one of the same author closely.
 * Another author's name is a link to the direct conversation with them
 * (`directUrl(name)`, "Message bob"; plain text without `directUrl`).
 * Everything users typed is inserted with .text() or .attr() (mentions by
 * mentions.js, as text nodes and spans), never as HTML.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var GROUP_WITHIN_MS = 5 * 60 * 1000;  // a message this soon after its author's last one joins it
  var AUTHOR_HUES = 8;                  // .hue-0 ... .hue-7 in chat.css

  function hueOf(name) {
    var hash = 0;
    for (var i = 0; i < name.length; i += 1) {
      hash = (hash * 33 + name.charCodeAt(i)) % 100003;
    }
    return "hue-" + (hash % AUTHOR_HUES);
  }

  /* The time a line stands for: a message's creation, a notice's arrival. */
  function timeOf(line) {
    return new Date($(line).children("time").attr("datetime"));
  }

  var UNSENT = ".message.pending, .message.failed";
  var THUMBNAIL_BOX = 480;  // px: the server's thumbnails fit in this square

  /* "532 bytes", "1.5 KB", "10 MB". */
  function humanSize(size) {
    if (size < 1024) {
      return size + " bytes";
    }
    var units = ["KB", "MB", "GB"];
    for (var i = 0; i < units.length; i += 1) {
      size /= 1024;
      if (size < 1024 || i === units.length - 1) {
        return (Math.round(size * 10) / 10) + " " + units[i];
      }
    }
    return "";
  }

  /*
   * A stored file: an image as its thumbnail (width and height given, so the
   * line has its height before the picture loads), a link to it full size;
   * any other file as its name (a download link), size and type.
   */
  function renderAttachment(file) {
    var $file = $("<div class='attachment'></div>");
    var name = String(file.name);
    if (file.inline && file.thumbnail && file.width > 0 && file.height > 0) {
      var scale = Math.min(1, THUMBNAIL_BOX / file.width, THUMBNAIL_BOX / file.height);
      var $link = $("<a class='attachment-image' target='_blank' rel='noopener'></a>")
        .attr({ href: String(file.url), title: name + " (open full size)" })
        .appendTo($file);
      $("<img loading='lazy'>").attr({
        src: String(file.thumbnail), alt: name,
        width: Math.max(1, Math.round(file.width * scale)),
        height: Math.max(1, Math.round(file.height * scale))
      }).appendTo($link);
      return $file;
    }
    $file.addClass("attachment-file");
    $("<a class='attachment-download' download></a>")
      .attr({ href: String(file.url), download: name }).text(name).appendTo($file);
    $("<span class='attachment-meta'></span>")
      .text(humanSize(Number(file.size) || 0) + " · " + String(file.type)).appendTo($file);
    return $file;
  }

  /* A file on its way: its name and size, a progress bar, and Cancel while pending. */
  function renderUpload(upload, pending) {
    var $file = $("<div class='attachment attachment-file'></div>");
    $("<span class='attachment-name'></span>").text(String(upload.name)).appendTo($file);
    $("<span class='attachment-meta'></span>").text(humanSize(upload.size)).appendTo($file);
    if (pending) {
      $("<progress class='upload-progress'></progress>")
        .attr({ max: Math.max(upload.size, 1), "aria-label": "Sent of " + upload.name })
        .val(upload.sent).appendTo($file);
      $("<button type='button' class='btn btn-link btn-sm cancel-upload'></button>")
        .text("Cancel").attr("aria-label", "Cancel sending " + upload.name).appendTo($file);
    }
    return $file;
  }
  // A control on a line that keeps the focus when its line is re-rendered.
  var FOCUSABLE = ["edit-message", "delete-message", "retry", "discard"];

  function Timeline($box, options) {
    var self = this;
    options = options || {};
    self.$box = $box;
    self.me = options.me;             // the reader: only their lines can be unsent
    self.staff = !!options.staff;     // staff may delete any message
    self.editWindowMs = (options.editMinutes || 15) * 60 * 1000;
    self.directUrl = options.directUrl || null;  // name -> its direct conversation's page
    self.byId = {};        // message id -> its .message line (jQuery)
    self.byCid = {};       // client_message_id -> the reader's unsent line (jQuery)
    self.newest = null;    // newest message id shown
    self.today = chat.time.dayKey(new Date());
    // "Today" becomes "Yesterday" at midnight for a page left open.
    setInterval(function () {
      if (chat.time.dayKey(new Date()) !== self.today) {
        self.today = chat.time.dayKey(new Date());
        self.relabelDays();
      }
      self.closeEditWindows();
    }, 30 * 1000);
  }

  /*
   * A message object as a detached `.message` line. The reader's unsent lines
   * are message objects too, with `state` "pending" (greyed, "Sending...", and
   * the `error` that holds it back for a while, if one does) or "failed" (the
   * server's `error`, and Retry and Discard buttons). A deleted
   * message keeps its author and time; its text is gone ("message deleted").
   */
  Timeline.prototype.render = function (message) {
    var created = message.created ? new Date(message.created) : new Date();
    var user = String(message.user);
    var mentions = Array.isArray(message.mentions) ? message.mentions : [];
    var $line = $("<div class='message'></div>").addClass(hueOf(user)).attr("data-user", user);
    if (typeof message.id === "number") {
      $line.attr("data-id", message.id);
    }
    if (typeof message.seq === "number") {
      $line.attr("data-seq", message.seq);
    }
    if (message.client_message_id) {
      $line.attr("data-client-id", message.client_message_id);
    }
    $("<span class='avatar' aria-hidden='true'></span>")
      .text(Array.from(user)[0] || "?")  // the first character, even outside the BMP
      .appendTo($line);
    if (this.directUrl && user !== this.me) {
      // Another author's name opens the direct conversation with them.
      $("<a class='author'></a>").text(user)
        .attr({ href: this.directUrl(user), title: "Message " + user,
                "aria-label": "Message " + user })
        .appendTo($line);
    } else {
      $("<span class='author'></span>").text(user).appendTo($line);
    }
    chat.time.element(created).appendTo($line);
    if (message.deleted) {
      $line.addClass("deleted");
      $("<span class='deleted-note'></span>").text("message deleted").appendTo($line);
      return $line;
    }
    var $text = $("<span class='text'></span>").appendTo($line);
    chat.mentions.fill($text, String(message.text), mentions);
    if (message.attachment && typeof message.attachment === "object") {
      renderAttachment(message.attachment).appendTo($line);
    } else if (message.upload) {
      $line.addClass("upload");
      renderUpload(message.upload, message.state === "pending").appendTo($line);
    }
    if ($.inArray(this.me, mentions) !== -1) {
      $line.addClass("mention");
    }
    if (message.edited) {
      var edited = new Date(message.edited);
      $line.addClass("was-edited");
      $("<span class='edited'></span>").text("(edited)")
        .attr("title", "Edited " + edited.toLocaleString([], {
          dateStyle: "full", timeStyle: "medium"
        }))
        .appendTo($line);
    }
    if (message.state === "pending") {
      $line.addClass("pending");
      // A line held back for a while (too fast, the server busy) says why.
      $("<span class='message-state'></span>")
        .text("Sending…" + (message.error ? " " + message.error : "")).appendTo($line);
    } else if (message.state === "failed") {
      $line.addClass("failed");
      var $state = $("<span class='message-state'></span>").appendTo($line);
      $("<span class='message-error'></span>")
        .text("Not sent: " + (message.error || "the server refused it."))
        .appendTo($state);
      $("<button type='button' class='btn btn-link btn-sm retry'></button>")
        .text("Retry").appendTo($state);
      $("<button type='button' class='btn btn-link btn-sm discard'></button>")
        .text("Discard").appendTo($state);
    } else if (typeof message.id === "number") {
      this.controls($line, user, created);
    }
    return $line;
  };

  /* Edit (the reader's own message, while it may be edited) and Delete (own; staff: any). */
  Timeline.prototype.controls = function ($line, user, created) {
    var own = user === this.me;
    var $actions = $("<div class='message-actions'></div>");
    if (own && this.editable(created)) {
      $("<button type='button' class='btn btn-sm edit-message'></button>")
        .text("Edit").attr("aria-label", "Edit your message").appendTo($actions);
    }
    if (own || this.staff) {
      $("<button type='button' class='btn btn-sm delete-message'></button>")
        .text("Delete").attr("aria-label", own ? "Delete your message" : "Delete " + user + "'s message")
        .appendTo($actions);
    }
    if ($actions.children().length) {
      $line.addClass("has-actions").append($actions);
    }
  };

  Timeline.prototype.editable = function (created) {
    return new Date() - created < this.editWindowMs;
  };

  /* Edit buttons go once their message's edit window has closed. */
  Timeline.prototype.closeEditWindows = function () {
    var self = this;
    self.$box.find(".message .edit-message").each(function () {
      var $line = $(this).closest(".message");
      if (!$line.hasClass("editing") && !self.editable(timeOf($line[0]))) {
        $(this).remove();
      }
    });
  };

  /* The reader's unsent line that `message` is (the same client_message_id), if any. */
  function mine(timeline, message) {
    return message.client_message_id && String(message.user) === timeline.me &&
      timeline.byCid[message.client_message_id];
  }

  /*
   * Show a message: a new id gets a line in its place, a known one is
   * re-rendered where it is (unless it shows a newer state already), and the
   * reader's unsent line with the same client_message_id becomes it (never two
   * copies). Returns {$line, isNew} (isNew: a line nobody had seen here, not
   * the reader's own), or null for something that is not a message.
   */
  Timeline.prototype.upsert = function (message) {
    if (!message || typeof message.id !== "number") {
      return null;
    }
    var $old = this.byId[message.id];
    if ($old && this.newer($old, message)) {
      return { $line: $old, isNew: false };
    }
    var $unsent = mine(this, message);
    var $line = this.render(message);
    if ($unsent) {
      delete this.byCid[message.client_message_id];
    }
    if ($old) {
      var reopen = this.carry($old, $line);  // an edit or a confirm under way stays
      $old.replaceWith($line);
      reopen();
      if ($unsent) {
        this.drop($unsent);
      }
    } else if ($unsent) {
      // Its place is the database's: where its id goes, which is usually just
      // where it was, at the bottom.
      $unsent.replaceWith($line);
      this.reposition($line, message.id);
    } else {
      this.place($line, message.id);
    }
    this.byId[message.id] = $line;
    this.newest = this.newest === null ? message.id : Math.max(this.newest, message.id);
    this.tidy($line);
    return { $line: $line, isNew: !$old && !$unsent };
  };

  /*
   * What the reader is doing on a line that is re-rendered (editing it, or
   * confirming its delete, editing.js) moves to the new line, with the focus;
   * a line that became a placeholder ends it (the focus goes to the box).
   * Returns what to do once the new line is in.
   */
  Timeline.prototype.carry = function ($old, $line) {
    var $box = this.$box;
    var focused = $.contains($old[0], document.activeElement) ? document.activeElement : null;
    var selection = focused && focused.tagName === "TEXTAREA" ?
      [focused.selectionStart, focused.selectionEnd] : null;
    var $editor = $old.find(".message-editor").detach();
    var $confirm = $old.find(".delete-confirm").detach();
    var focusClass = focused && $.grep(FOCUSABLE, function (name) {
      return $(focused).hasClass(name);
    })[0];
    return function () {
      if ($line.hasClass("deleted")) {
        if (focused) {
          $box.trigger("focus");
        }
        return;
      }
      if ($editor.length) {
        $line.addClass("editing").append($editor);
      }
      var $actions = $line.children(".message-actions");
      if ($confirm.length && $actions.length) {
        $line.addClass("confirming");
        $actions.append($confirm);
      }
      if (focused && $.contains($line[0], focused)) {
        focused.focus();
        if (selection) {
          focused.setSelectionRange(selection[0], selection[1]);
        }
      } else if (focused) {
        var $same = focusClass ? $line.find("." + focusClass).first() : $();
        ($same.length ? $same : $box).trigger("focus");
      }
    };
  };

  /* The line shows a state at least as new as `message` (by seq; deleted is for good). */
  Timeline.prototype.newer = function ($line, message) {
    if ($line.hasClass("deleted")) {
      return true;
    }
    var seq = Number($line.attr("data-seq"));
    return typeof message.seq === "number" && !isNaN(seq) && seq > message.seq;
  };

  /*
   * A change replayed on reconnect (`since`): applied as a page that never
   * left would have seen it. A message shown is updated; one newer than every
   * message shown is new (a deleted one is a placeholder, as it was for them);
   * one older than the lines shown is not shown here (scroll-back brings
   * it), nor is a deleted one that was never shown.
   */
  Timeline.prototype.apply = function (message) {
    if (!message || typeof message.id !== "number") {
      return null;
    }
    var known = !!this.byId[message.id];
    var older = this.newest !== null && message.id < this.newest;
    var oldest = this.oldestId();
    if (!known && older && (message.deleted || (oldest !== null && message.id < oldest))) {
      return null;
    }
    return this.upsert(message);
  };

  /* message_deleted {id, seq}: the line, if shown, becomes a placeholder. */
  Timeline.prototype.deleted = function (id, seq) {
    var $old = this.byId[id];
    if (!$old) {
      return null;
    }
    return this.upsert({
      id: id, user: $old.attr("data-user"), created: $old.children("time").attr("datetime"),
      client_message_id: $old.attr("data-client-id") || null, seq: seq, deleted: true
    });
  };

  /*
   * The reader's line `entry` ({client_message_id, text, created, state,
   * error}) that the server has not stored: shown, or re-rendered where it is.
   * New ones go at the bottom, in the order typed.
   */
  Timeline.prototype.unsent = function (entry) {
    var message = $.extend({}, entry, { user: this.me });
    var $old = this.byCid[entry.client_message_id];
    var $line = this.render(message);
    if ($old) {
      $old.replaceWith($line);
    } else {
      this.$box.append($line);
    }
    this.byCid[entry.client_message_id] = $line;
    this.tidy($line);
    return $line;
  };

  /*
   * The server stored the reader's line `cid` as message `id` (its ack): the
   * line becomes a normal message, moved to its id's place if it is not there.
   * Its broadcast, if it comes later, re-renders it with the server's text
   * and time.
   */
  Timeline.prototype.confirm = function (cid, id, entry) {
    var $unsent = this.byCid[cid];
    if (!$unsent) {
      return null;  // its broadcast or the history came first
    }
    return this.upsert({
      id: id, user: this.me, text: entry.text, created: entry.created, client_message_id: cid
    });
  };

  /* A failed line the reader discarded. */
  Timeline.prototype.forget = function (cid) {
    var $line = this.byCid[cid];
    if ($line) {
      delete this.byCid[cid];
      this.drop($line);
    }
  };

  /* Take a line out, with the day separator above it; the next line is tidied. */
  Timeline.prototype.drop = function ($line) {
    var $next = $line.nextAll(".message, .notice").first();
    $line.prevUntil(":not(.day-separator)").remove();
    $line.remove();
    if ($next.length) {
      this.tidy($next);
    }
  };

  /*
   * The one place that orders lines: by id. A message goes before the first
   * message with a greater id (a resend after a hiccup, a page of
   * scroll-back), else before the reader's unsent lines, else at the end.
   * Lines without an id (notices) stay where they were put, at the end (above
   * unsent lines) when they arrived.
   */
  Timeline.prototype.place = function ($line, id) {
    var next = null;
    if (this.newest !== null && id < this.newest) {
      this.$box.children(".message[data-id]").each(function () {
        if (Number(this.getAttribute("data-id")) > id) {
          next = this;
          return false;
        }
        return true;
      });
    }
    next = next || this.$box.children(UNSENT)[0];
    if (next) {
      $line.insertBefore(next);
    } else {
      this.$box.append($line);
    }
  };

  /* A line that got its id where it was: moved only if its id says so. */
  Timeline.prototype.reposition = function ($line, id) {
    var before = $line.prevAll(".message[data-id]")[0];
    var after = $line.nextAll(".message[data-id]")[0];
    if ((before && Number(before.getAttribute("data-id")) > id) ||
        (after && Number(after.getAttribute("data-id")) < id) || $line.prevAll(UNSENT)[0]) {
      var $next = $line.nextAll(".message, .notice").first();
      $line.prevUntil(":not(.day-separator)").remove();
      $line.detach();
      this.place($line, id);
      if ($next.length) {
        this.tidy($next);
      }
    }
  };

  /* A notice (joined, left) with the time it arrived. */
  Timeline.prototype.notice = function (text, isError) {
    var $line = $("<div class='notice'></div>").toggleClass("error", !!isError);
    // The time is drawn by the style sheet: the notice's text is its words alone.
    chat.time.element(new Date(), { quiet: true }).appendTo($line);
    $("<span class='notice-text'></span>").text(text).appendTo($line);
    var firstUnsent = this.$box.children(UNSENT)[0];
    if (firstUnsent) {
      $line.insertBefore(firstUnsent);
    } else {
      this.$box.append($line);
    }
    this.tidy($line);
    return $line;
  };

  /*
   * "New messages" above the first message after `lastRead` that someone else
   * wrote (what the server counts as unread); null when there is none.
   */
  Timeline.prototype.markUnread = function (lastRead) {
    var me = this.me;
    this.$box.children(".unread-divider").remove();
    var $first = this.$box.children(".message[data-id]").filter(function () {
      return Number(this.getAttribute("data-id")) > lastRead &&
        this.getAttribute("data-user") !== me;
    }).first();
    if (!$first.length) {
      return null;
    }
    // Above the line's day separator, so that the separator stays its line's.
    var $top = $first.prevUntil(":not(.day-separator)").last();
    var $divider = $("<div class='unread-divider' role='separator'></div>")
      .append($("<span></span>").text("New messages"))
      .insertBefore($top.length ? $top : $first);
    this.tidy($first);
    return $divider;
  };

  /*
   * Forget every stored line (the server will send the newest again). The
   * reader's unsent lines stay: they are still to be sent.
   */
  Timeline.prototype.clear = function () {
    this.$box.children().not(UNSENT).remove();
    this.byId = {};
    this.newest = null;
    var first = this.$box.children(UNSENT)[0];
    if (first) {
      this.tidy($(first));
    }
  };

  Timeline.prototype.newestId = function () {
    return this.newest;
  };

  /* The oldest message id shown (where scroll-back goes on from), or null. */
  Timeline.prototype.oldestId = function () {
    var first = this.$box.children(".message[data-id]")[0];
    return first ? Number(first.getAttribute("data-id")) : null;
  };

  Timeline.prototype.line = function (id) {
    return this.byId[id] || null;
  };

  /* Fix the day separator and grouping of a line that just arrived and of the line after it. */
  Timeline.prototype.tidy = function ($line) {
    this.fixDay($line[0]);
    var next = $line.nextAll(".message, .notice")[0];
    if (next) {
      this.fixDay(next);
    }
  };

  Timeline.prototype.fixDay = function (line) {
    var $line = $(line);
    // Separators directly above a line belong to it: drop them, add the right one.
    $line.prevUntil(":not(.day-separator)").remove();
    var previous = $line.prevAll(".message, .notice")[0];
    var time = timeOf(line);
    if (!previous || chat.time.dayKey(timeOf(previous)) !== chat.time.dayKey(time)) {
      $("<div class='day-separator'></div>")
        .attr("data-day", time.toISOString())
        .append($("<span></span>").text(chat.time.dayLabel(time)))
        .insertBefore($line);
      previous = null;
    }
    var follows = previous && $line.is(".message") && $(previous).is(".message") &&
      $line.prev()[0] === previous &&
      $(previous).attr("data-user") === $line.attr("data-user") &&
      time - timeOf(previous) < GROUP_WITHIN_MS;
    $line.toggleClass("continued", !!follows);
  };

  Timeline.prototype.relabelDays = function () {
    this.$box.children(".day-separator").each(function () {
      $(this).children("span").text(chat.time.dayLabel(new Date($(this).attr("data-day"))));
    });
  };

  chat.timeline = function ($box, options) {
    return new Timeline($box, options);
  };
})(jQuery);
