/*
 * A small Socket.IO v5 client for jQuery, over a plain WebSocket (Engine.IO v4).
 *
 *   var socket = $.socketio({ auth: function () { return { room: "general" }; } });
 *   var lobby = $.socketio({ namespace: "/lobby" });   // another namespace ("/" by default)
 *   socket.on("connect", fn);          // the namespace is connected
 *   socket.on("disconnect", fn);       // fn(reason): connection lost, will reconnect
 *   socket.on("reconnecting", fn);     // fn(attempt, delayMs, reason)
 *   socket.on("connect_error", fn);    // fn(message): refused by the server, final
 *                                      // (a refusal that says {"retry_after": s}
 *                                      // is not final: it is retried after s)
 *   socket.on("server_disconnect", fn); // fn(message): the server ended the session, final
 *   socket.on("server_restart", fn);   // fn({retry_after: s}): the server is stopping (a
 *                                      // deploy); it closes this connection next, and
 *                                      // the first attempt to come back waits s seconds
 *   socket.on("message", fn);          // any server event: fn(data, ...)
 *   socket.emit("message", { text: "hi" }, function (answer) { ... });
 *   socket.close();
 *
 * An ack that can never come (the connection dropped after the emit was sent,
 * or the socket closed for good before it was) is answered by the shim with
 * {ok: false, error, lost: true}: the server may or may not have acted on it.
 * Any other {ok: false} is the server's (or the size check's) refusal.
 *
 * Only the WebSocket transport is spoken: one Engine.IO packet per frame.
 * Engine.IO packets: 0 open, 1 close, 2 ping, 3 pong, 4 message, 6 noop.
 * Socket.IO packets ride in "4": <type>[<nsp>,][<ack id>][JSON], with types
 * 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR; the namespace is
 * written only when it is not "/" ("42/lobby,[...]"). One socket speaks one
 * namespace over a WebSocket of its own.
 * In Engine.IO v4 the server pings and the client answers with a pong.
 *
 * Binary data (an ArrayBuffer or a typed array such as Uint8Array, anywhere in
 * the arguments of an emit or of an ack) travels as Socket.IO v5 binary
 * packets, the way the reference client sends them: type 5 BINARY_EVENT or
 * 6 BINARY_ACK, the number of attachments and "-" before the rest, each binary
 * value replaced by {"_placeholder": true, "num": N} in the JSON, and then the
 * N attachments, each in a binary WebSocket frame of its own, in order:
 *
 *   451-["upload_chunk",{"offset":0,"data":{"_placeholder":true,"num":0}}]
 *   <binary frame: the bytes>
 *
 * The server's binary packets are put back together the same way: handlers
 * and acks get an ArrayBuffer where the placeholder was. Every frame (the text
 * one and each attachment) must fit in the server's maxPayload; an emit that
 * does not is refused before anything is sent, like a text one.
 */
(function ($) {
  "use strict";

  var EIO_OPEN = "0", EIO_CLOSE = "1", EIO_PING = "2", EIO_PONG = "3", EIO_MESSAGE = "4";
  var SIO_CONNECT = "0", SIO_DISCONNECT = "1", SIO_EVENT = "2", SIO_ACK = "3", SIO_CONNECT_ERROR = "4";
  var SIO_BINARY_EVENT = "5", SIO_BINARY_ACK = "6";

  var DEFAULTS = {
    path: "/socket.io/",
    namespace: "/",
    auth: function () { return {}; },
    reconnectDelay: 1000,      // first retry after about this long...
    reconnectDelayMax: 5000,   // ...doubling up to this
    randomization: 0.5,        // +/- 50% jitter, so clients do not all retry at once
    livenessCheckEvery: 1000,  // how often we look for a missing ping
    openTimeout: 20000         // a server that accepts but never says "0" is dead too
  };

  function socketUrl(path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path + "?EIO=4&transport=websocket";
  }

  function utf8Length(text) {
    return new TextEncoder().encode(text).length;
  }

  function isBinary(value) {
    return value instanceof ArrayBuffer || ArrayBuffer.isView(value);
  }

  /* The bytes of an ArrayBuffer or a view on one, as WebSocket.send takes them. */
  function frameOf(value) {
    return value instanceof ArrayBuffer ? value :
      value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  }

  /* ``data`` with every binary value replaced by its placeholder, pushed on ``attachments``. */
  function deconstruct(data, attachments) {
    if (isBinary(data)) {
      attachments.push(frameOf(data));
      return { _placeholder: true, num: attachments.length - 1 };
    }
    if (Array.isArray(data)) {
      return $.map(data, function (item) { return [deconstruct(item, attachments)]; });
    }
    if (data && typeof data === "object" && !(data instanceof Date)) {
      var copy = {};
      $.each(data, function (key, value) { copy[key] = deconstruct(value, attachments); });
      return copy;
    }
    return data;
  }

  /* ``data`` with each placeholder replaced by its attachment (an ArrayBuffer). */
  function reconstruct(data, attachments) {
    if (Array.isArray(data)) {
      return $.map(data, function (item) { return [reconstruct(item, attachments)]; });
    }
    if (data && typeof data === "object") {
      if (data._placeholder === true && typeof data.num === "number") {
        return attachments[data.num];
      }
      var copy = {};
      $.each(data, function (key, value) { copy[key] = reconstruct(value, attachments); });
      return copy;
    }
    return data;
  }

  /* Split a Socket.IO packet (the part after the Engine.IO "4") into its fields. */
  function decodePacket(text) {
    var packet = { type: text.charAt(0), nsp: "/", id: null, data: undefined, attachments: 0 };
    var i = 1;
    if (packet.type === SIO_BINARY_EVENT || packet.type === SIO_BINARY_ACK) {
      var dash = text.indexOf("-", i);
      packet.attachments = parseInt(text.substring(i, dash), 10);
      if (dash === -1 || !(packet.attachments >= 0)) {
        throw new Error("bad binary packet");
      }
      i = dash + 1;
    }
    if (text.charAt(i) === "/") {
      var comma = text.indexOf(",", i);
      packet.nsp = text.substring(i, comma === -1 ? text.length : comma);
      i = comma === -1 ? text.length : comma + 1;
    }
    var digits = "";
    while (i < text.length && text.charAt(i) >= "0" && text.charAt(i) <= "9") {
      digits += text.charAt(i);
      i += 1;
    }
    if (digits) {
      packet.id = parseInt(digits, 10);
    }
    if (i < text.length) {
      packet.data = JSON.parse(text.substring(i));
    }
    return packet;
  }

  function Socket(options) {
    this.options = $.extend({}, DEFAULTS, options);
    this.nsp = this.options.namespace;
    // What every packet of this namespace starts with after its type: "" for "/".
    this.prefix = this.nsp === "/" ? "" : this.nsp + ",";
    this.handlers = {};         // event name -> $.Callbacks
    this.ws = null;
    this.connected = false;     // the namespace is connected
    this.closedByUser = false;
    this.refused = false;       // server said no (44) or sent us away (41): no retry
    this.attempts = 0;
    this.retryNotBefore = 0;    // a server's "retry_after" pushes the next attempt back
    this.maxPayload = 1000000;
    this.deadline = 0;          // when the next ping is overdue
    this.nextAckId = 0;
    this.pendingAcks = {};
    this.earlyEvents = [];      // events that arrived before the CONNECT reply
    this.binaryPacket = null;   // a binary packet waiting for its attachments
    this.outbox = [];           // emits waiting for the namespace connection
    this.livenessTimer = null;
    this.retryTimer = null;
    this.open();
  }

  Socket.prototype.on = function (event, handler) {
    (this.handlers[event] = this.handlers[event] || $.Callbacks()).add(handler);
    return this;
  };

  Socket.prototype.fire = function (event, args) {
    if (this.handlers[event]) {
      this.handlers[event].fireWith(this, args);
    }
  };

  Socket.prototype.open = function () {
    var self = this;
    self.connected = false;
    self.earlyEvents = [];
    self.binaryPacket = null;
    var ws = new WebSocket(socketUrl(self.options.path));
    ws.binaryType = "arraybuffer";
    self.ws = ws;
    self.deadline = Date.now() + self.options.openTimeout;
    self.startLivenessCheck();
    ws.onmessage = function (event) {
      if (ws !== self.ws) {
        return;
      }
      if (typeof event.data === "string") {
        self.onFrame(event.data);
      } else {
        self.onAttachment(event.data);
      }
    };
    ws.onclose = function (event) {
      if (ws === self.ws) {
        self.onClose("transport closed (code " + event.code + ")");
      }
    };
    // Chromium fires "error" and no "close" for an attempt it blocks itself (a
    // Content-Security-Policy, an extension): without this the page would sit
    // until openTimeout before trying again.
    ws.onerror = function () {
      if (ws === self.ws) {
        self.dropTransport("transport error");
      }
    };
  };

  Socket.prototype.send = function (frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(frame);
    }
  };

  Socket.prototype.onFrame = function (frame) {
    var type = frame.charAt(0);
    if (type === EIO_OPEN) {
      var handshake = JSON.parse(frame.substring(1));
      this.pingWindow = handshake.pingInterval + handshake.pingTimeout;
      this.maxPayload = handshake.maxPayload || this.maxPayload;
      this.expectPing();
      this.startLivenessCheck();
      // Without this namespace CONNECT the server never runs its connect handler.
      this.send(EIO_MESSAGE + SIO_CONNECT + this.prefix +
        JSON.stringify(this.options.auth() || {}));
    } else if (type === EIO_PING) {
      this.expectPing();
      this.send(EIO_PONG + frame.substring(1));
    } else if (type === EIO_CLOSE) {
      this.dropTransport("server closed the connection");
    } else if (type === EIO_MESSAGE) {
      var packet;
      try {
        packet = decodePacket(frame.substring(1));
      } catch (error) {
        return; // not JSON we understand: ignore rather than break the page
      }
      if (packet.attachments > 0) {
        // Its attachments come next, whatever namespace it is for.
        this.binaryPacket = packet;
        packet.buffers = [];
      } else if (packet.nsp === this.nsp) {
        this.onPacket(packet);
      }
    }
    // 3 (pong), 5 (upgrade) and 6 (noop) need no answer.
  };

  /* A binary frame: the next attachment of the binary packet being received. */
  Socket.prototype.onAttachment = function (buffer) {
    var packet = this.binaryPacket;
    if (!packet) {
      return; // no packet announced it: not ours to understand
    }
    packet.buffers.push(buffer);
    if (packet.buffers.length < packet.attachments) {
      return;
    }
    this.binaryPacket = null;
    packet.data = reconstruct(packet.data, packet.buffers);
    packet.type = packet.type === SIO_BINARY_EVENT ? SIO_EVENT : SIO_ACK;
    if (packet.nsp === this.nsp) {
      this.onPacket(packet);
    }
  };

  Socket.prototype.onPacket = function (packet) {
    if (packet.type === SIO_CONNECT) {
      this.onConnected();
    } else if (packet.type === SIO_EVENT && Array.isArray(packet.data) && packet.data.length) {
      if (packet.id !== null) {
        this.send(EIO_MESSAGE + SIO_ACK + this.prefix + packet.id + "[]");
      }
      if (packet.data[0] === "server_restart") {
        this.comeBackAfter(packet.data[1]);
      }
      if (this.connected) {
        this.fire(packet.data[0], packet.data.slice(1));
      } else {
        // python-socketio may send what the connect handler emits before its
        // CONNECT reply: keep those events and deliver them in order.
        this.earlyEvents.push(packet.data);
      }
    } else if (packet.type === SIO_ACK && this.pendingAcks[packet.id]) {
      var callback = this.pendingAcks[packet.id];
      delete this.pendingAcks[packet.id];
      callback.apply(this, Array.isArray(packet.data) ? packet.data : []);
    } else if (packet.type === SIO_CONNECT_ERROR) {
      var data = packet.data;
      var message = (data && typeof data === "object" ? data.message : data) ||
        "The server refused the connection.";
      var retryAfter = data && data.data && data.data.retry_after;
      if (typeof retryAfter === "number" && retryAfter >= 0) {
        // A refusal that passes by itself (a rate limit, a busy server): not
        // final; the next attempt waits at least as long as the server asked.
        this.retryNotBefore = Date.now() + retryAfter * 1000;
        this.dropTransport(message);
      } else {
        this.giveUp("connect_error", message);
      }
    } else if (packet.type === SIO_DISCONNECT) {
      this.giveUp("server_disconnect", "The server closed this chat session.");
    }
  };

  /*
   * A stopping server gives each page its own time to come back, spread so
   * that the new process is not stormed: the first attempt waits that long,
   * later ones back off as usual.
   */
  Socket.prototype.comeBackAfter = function (notice) {
    var seconds = notice && notice.retry_after;
    if (typeof seconds === "number" && seconds >= 0) {
      this.retryNotBefore = Date.now() + seconds * 1000;
      this.attempts = 0;
    }
  };

  Socket.prototype.onConnected = function () {
    var self = this;
    self.connected = true;
    self.attempts = 0;
    self.fire("connect", []);
    $.each(self.earlyEvents.splice(0), function (_, data) {
      self.fire(data[0], data.slice(1));
    });
    $.each(self.outbox.splice(0), function (_, item) {
      self.transmit(item);
    });
  };

  Socket.prototype.expectPing = function () {
    this.deadline = Date.now() + this.pingWindow;
  };

  /* Background tabs throttle timers, so compare clocks instead of trusting a timeout. */
  Socket.prototype.startLivenessCheck = function () {
    var self = this;
    clearInterval(self.livenessTimer);
    self.livenessTimer = setInterval(function () {
      if (self.deadline && Date.now() > self.deadline) {
        self.dropTransport("no ping from the server");
      }
    }, self.options.livenessCheckEvery);
  };

  Socket.prototype.stopTimers = function () {
    clearInterval(this.livenessTimer);
    clearTimeout(this.retryTimer);
    this.livenessTimer = null;
    this.deadline = 0;
  };

  /*
   * Answer every waiting ack: the server will never answer them now. Whether
   * it acted on them is unknown (lost: true), which is not a refusal.
   */
  Socket.prototype.failPendingAcks = function () {
    var pending = this.pendingAcks;
    this.pendingAcks = {};
    $.each(pending, function (_, callback) {
      callback({
        ok: false, lost: true, error: "The connection was lost before the server answered."
      });
    });
  };

  /* Emits still queued will never be sent (refused or closed for good). */
  Socket.prototype.failQueued = function () {
    $.each(this.outbox.splice(0), function (_, item) {
      if (item.ack) {
        item.ack({ ok: false, lost: true, error: "Not connected to the chat." });
      }
    });
  };

  Socket.prototype.dropTransport = function (reason) {
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close();
    }
    this.onClose(reason);
  };

  Socket.prototype.onClose = function (reason) {
    var wasConnected = this.connected;
    this.ws = null;
    this.connected = false;
    this.stopTimers();
    this.failPendingAcks();
    if (wasConnected) {
      this.fire("disconnect", [reason]);
    }
    if (!this.closedByUser && !this.refused) {
      this.scheduleReconnect(reason);
    }
  };

  /* A refusal or a server-side disconnect is final: close, tell, do not retry. */
  Socket.prototype.giveUp = function (event, message) {
    this.refused = true;
    this.failQueued();
    this.dropTransport(message);
    this.fire(event, [message]);
  };

  Socket.prototype.scheduleReconnect = function (reason) {
    var self = this;
    var base = Math.min(
      self.options.reconnectDelayMax,
      self.options.reconnectDelay * Math.pow(2, self.attempts)
    );
    var jitter = base * self.options.randomization * (Math.random() * 2 - 1);
    var delay = Math.max(0, Math.round(base + jitter), self.retryNotBefore - Date.now());
    self.attempts += 1;
    self.fire("reconnecting", [self.attempts, delay, reason]);
    self.retryTimer = setTimeout(function () {
      if (!self.closedByUser && !self.refused) {
        self.open();
      }
    }, delay);
  };

  /*
   * Emit an event; the optional last argument is the ack callback. Returns false
   * (and answers the ack with an error) when the packet is over the server's
   * maxPayload, which would otherwise make the server drop the connection.
   */
  Socket.prototype.emit = function (event) {
    var args = Array.prototype.slice.call(arguments, 1);
    var ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    var id = "";
    if (ack) {
      id = String(this.nextAckId++);
    }
    var attachments = [];
    var data = deconstruct([event].concat(args), attachments);
    var head = attachments.length ? SIO_BINARY_EVENT + attachments.length + "-" : SIO_EVENT;
    var frame = EIO_MESSAGE + head + this.prefix + id + JSON.stringify(data);
    if (!this.fits(frame, attachments)) {
      if (ack) {
        ack({ ok: false, error: "This message is too large to send." });
      }
      return false;
    }
    var item = { frame: frame, attachments: attachments, id: id, ack: ack };
    if (this.connected) {
      this.transmit(item);
    } else {
      this.outbox.push(item);
    }
    return true;
  };

  /* Whether each frame of a packet is within the server's maxPayload (bytes). */
  Socket.prototype.fits = function (frame, attachments) {
    var max = this.maxPayload;
    return utf8Length(frame) <= max && $.grep(attachments, function (buffer) {
      return buffer.byteLength > max;
    }).length === 0;
  };

  /* Send now; the ack waits from here (a queued emit cannot have been lost yet). */
  Socket.prototype.transmit = function (item) {
    var self = this;
    if (item.ack) {
      self.pendingAcks[item.id] = item.ack;
    }
    self.send(item.frame);
    $.each(item.attachments || [], function (_, buffer) {
      self.send(buffer);
    });
  };

  Socket.prototype.close = function () {
    this.closedByUser = true;
    this.failQueued();
    if (this.connected) {
      this.send(EIO_MESSAGE + SIO_DISCONNECT + this.prefix);
    }
    this.dropTransport("closed by the page");
  };

  $.socketio = function (options) {
    return new Socket(options);
  };
})(jQuery);
