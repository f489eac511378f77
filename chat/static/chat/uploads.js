/*
 * Files sent from the page: the file picker (#attach-button, #file-input),
 * a paste into the composer, a drop on the conversation. Each file becomes
 * its own line (the composer's text, if any, is the first one's caption),
 * pending with a progress bar (.upload-progress) and Cancel (.cancel-upload)
 * until the server has stored it; refused (too big, a type not allowed, over
 * quota), it shows why and offers Retry and Discard.
 *
 *   var uploads = d09Chat.uploads({ socket, timeline, scroll, me, takeCaption, showError });
 *   uploads.add(fileList)   // files picked, pasted or dropped
 *   uploads.resume()        // the socket is connected (again): go on where each was
 *
 * On the wire (README, "Event API"): upload_start declares the file under a
 * new client_message_id and answers the offset to send from; upload_chunk
 * sends the bytes from there as Socket.IO binary packets of at most
 * `chunk_size` bytes, each acknowledged with the next offset expected. A
 * dropped connection loses nothing: after the reconnect, upload_start again
 * answers how far the server got. One file at a time, in the order added.
 * Lines of files do not outlive the page (a reload has no File to send).
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  function newId() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(22));
    var id = "";
    for (var i = 0; i < bytes.length; i += 1) {
      id += ALPHABET.charAt(bytes[i] & 63);
    }
    return id;
  }

  function Uploads(options) {
    $.extend(this, options);
    this.jobs = [];        // in the order added; each leaves once stored or discarded
    this.current = null;   // the job on the wire
  }

  Uploads.prototype.add = function (files) {
    var self = this;
    var caption = self.takeCaption();
    $.each(Array.prototype.slice.call(files || []), function (index, file) {
      var job = {
        client_message_id: newId(), file: file, text: index === 0 ? caption : "",
        created: new Date().toISOString(), state: "pending", error: null,
        upload: { name: file.name || "pasted file", size: file.size, sent: 0 }
      };
      self.jobs.push(job);
      self.show(job, true);
    });
    self.next();
  };

  Uploads.prototype.show = function (job, force) {
    var timeline = this.timeline;
    this.scroll.add(function () {
      timeline.unsent(job);
      return 0;
    }, force ? { force: true } : undefined);
  };

  Uploads.prototype.find = function (cid) {
    return $.grep(this.jobs, function (job) { return job.client_message_id === cid; })[0];
  };

  Uploads.prototype.remove = function (job) {
    this.jobs = $.grep(this.jobs, function (other) { return other !== job; });
    if (this.current === job) {
      this.current = null;
    }
  };

  /* Start the first pending file if none is on its way. */
  Uploads.prototype.next = function () {
    var socket = this.socket();
    if (this.current || !socket || !socket.connected) {
      return;
    }
    var job = $.grep(this.jobs, function (each) { return each.state === "pending"; })[0];
    if (job) {
      this.current = job;
      this.start(job);
    }
  };

  Uploads.prototype.resume = function () {
    this.current = null;  // whatever was on the wire starts again with upload_start
    this.next();
  };

  Uploads.prototype.start = function (job) {
    var self = this;
    var file = job.file;
    self.socket().emit("upload_start", {
      client_message_id: job.client_message_id, name: job.upload.name, size: file.size,
      type: file.type || "", text: job.text
    }, function (answer) {
      if (!self.still(job, answer)) {
        return;
      }
      if (answer.ok && typeof answer.id === "number") {
        self.stored(job, answer.id);  // sent before (a resend after a drop)
      } else if (answer.ok) {
        job.chunkSize = answer.chunk_size;
        self.send(job, answer.offset);
      } else {
        self.refused(job, answer);
      }
    });
  };

  /* Whether the answer still concerns the job (not cancelled, not lost). */
  Uploads.prototype.still = function (job, answer) {
    if (this.current !== job || job.state !== "pending") {
      return false;
    }
    if (answer && answer.lost) {
      this.current = null;  // goes on at the next connect (resume)
      return false;
    }
    return true;
  };

  Uploads.prototype.send = function (job, offset) {
    var self = this;
    self.progress(job, offset);
    var end = Math.min(offset + job.chunkSize, job.file.size);
    job.file.slice(offset, end).arrayBuffer().then(function (bytes) {
      if (self.current !== job || !self.socket().connected) {
        return;
      }
      self.socket().emit("upload_chunk", {
        client_message_id: job.client_message_id, offset: offset, data: bytes
      }, function (answer) {
        if (!self.still(job, answer)) {
          return;
        }
        if (answer.ok && typeof answer.id === "number") {
          self.stored(job, answer.id);
        } else if (answer.ok || answer.reason === "offset") {
          self.send(job, answer.offset);  // on, or from where the server is
        } else if (answer.reason === "no_upload") {
          self.start(job);  // expired meanwhile: declared again, from 0
        } else {
          self.refused(job, answer);
        }
      });
    }, function () {
      self.refused(job, { error: "The file could not be read." });
    });
  };

  Uploads.prototype.progress = function (job, sent) {
    job.upload.sent = sent;
    var $line = this.timeline.byCid[job.client_message_id];
    if ($line) {
      $line.find(".upload-progress").val(sent).attr("aria-valuenow", sent);
    }
  };

  Uploads.prototype.stored = function (job, id) {
    this.remove(job);
    if (this.timeline.byCid[job.client_message_id]) {
      this.timeline.confirm(job.client_message_id, id, job);
    }
    this.next();
  };

  Uploads.prototype.refused = function (job, answer) {
    var self = this;
    self.current = null;
    if (typeof answer.retry_after === "number") {
      // It passes by itself (too many files this minute): the same file again then.
      job.error = answer.error || null;
      self.show(job);
      setTimeout(function () { self.next(); }, Math.max(answer.retry_after, 0.1) * 1000);
      return;
    }
    job.state = "failed";
    job.error = answer.error || "The file could not be sent.";
    self.show(job);
    self.showError(job.error);
    self.next();
  };

  Uploads.prototype.cancel = function (job) {
    var socket = this.socket();
    if (socket && socket.connected) {
      socket.emit("upload_cancel", { client_message_id: job.client_message_id }, $.noop);
    }
    this.remove(job);
    this.timeline.forget(job.client_message_id);
    this.next();
  };

  Uploads.prototype.retry = function (job) {
    job.state = "pending";
    job.error = null;
    this.show(job);
    this.next();
  };

  /* The controls of upload lines, the picker, paste and drop. */
  Uploads.prototype.bind = function (parts) {
    var self = this;
    function jobOf(button) {
      return self.find($(button).closest(".message").attr("data-client-id"));
    }
    parts.$box.on("click", ".message.upload .cancel-upload", function () {
      var job = jobOf(this);
      if (job) { self.cancel(job); }
    });
    parts.$box.on("click", ".message.upload.failed .retry", function () {
      var job = jobOf(this);
      if (job) { self.retry(job); }
    });
    parts.$box.on("click", ".message.upload.failed .discard", function () {
      var job = jobOf(this);
      if (job) { self.cancel(job); }
    });
    parts.$button.on("click", function () {
      parts.$picker.trigger("click");
    });
    parts.$picker.on("change", function () {
      self.add(this.files);
      this.value = "";  // the same file may be picked again
    });
    parts.$input.on("paste", function (event) {
      var data = event.originalEvent.clipboardData;
      if (data && data.files && data.files.length) {
        event.preventDefault();  // a screenshot is a file, not text
        self.add(data.files);
      }
    });
    parts.$drop.on("dragover", function (event) {
      var types = event.originalEvent.dataTransfer && event.originalEvent.dataTransfer.types;
      if (types && $.inArray("Files", Array.prototype.slice.call(types)) !== -1) {
        event.preventDefault();
        parts.$drop.addClass("drop-target");
      }
    });
    parts.$drop.on("dragleave drop", function () {
      parts.$drop.removeClass("drop-target");
    });
    parts.$drop.on("drop", function (event) {
      var transfer = event.originalEvent.dataTransfer;
      if (transfer && transfer.files && transfer.files.length) {
        event.preventDefault();
        self.add(transfer.files);
      }
    });
  };

  chat.uploads = function (options) {
    return new Uploads(options);
  };
})(jQuery);
