/*
 * Notifications in the page (issue 23): the room header's controls and the
 * desktop notifications of messages that match the reader's level.
 *
 *   var notify = d09Chat.notify(socket, { room: "general" | null, $controls: $("#notify") });
 *
 * The server decides who is told (chat/notify/levels.py) and sends every page
 * of that user, on every worker, `notification` {room, name, kind, id, user,
 * text, mention, url}; the page shows it with the browser's Notification API
 * unless the reader is looking at that room (this tab, or another tab of this
 * browser: tabs say which room they show over a BroadcastChannel). One
 * notification per room at a time (tag "d09-room-<slug>": a newer replaces
 * it); a click focuses the tab and opens the room at the message.
 *
 * The level of the room (`notification_level` {room, level}, set by the
 * buttons of #notify-level, data-level "all" | "mentions" | "none") comes from
 * the server on joining and whenever any tab changes it; aria-pressed says
 * which one holds. #notify-desktop turns desktop notifications on for this
 * browser (permission is asked then, never on load; a refusal is explained in
 * #notify-status), #notify-sound a short tone made with WebAudio.
 *
 * Web Push: #notify-push registers the service worker (/sw.js, scope "/"),
 * subscribes with the server's VAPID public key (data-vapid-key; empty: push is
 * off on the server, and the page says so) and sends the subscription over the
 * socket (`push_subscribe`). The room page tells the server whether its tab is
 * visible (`visibility`): pushes go only where no tab shows the room.
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});
  var DESKTOP = "d09:notify:desktop";
  var SOUND = "d09:notify:sound";
  var CLAIMED = "d09:notify:claimed";
  var TAB = Math.random().toString(36).slice(2);
  var BLOCKED = "Notifications are blocked for this site. Allow them in the browser's " +
    "site settings (the icon before the address), then press Desktop again.";
  var UNSUPPORTED = "This browser cannot show notifications.";
  var SUBSCRIBE_WAIT = 15000;  // ms a push subscription may take

  function stored(key) {
    try {
      return window.localStorage.getItem(key) === "on";
    } catch (e) {
      return false;
    }
  }

  function store(key, on) {
    try {
      window.localStorage.setItem(key, on ? "on" : "off");
    } catch (e) { /* private mode: the choice lasts for this page */ }
  }

  /* Which room each other tab of this browser is reading (visible and focused). */
  function TabsReading(room) {
    this.others = {};  // tab -> room slug
    this.room = room;
    var self = this;
    if (!window.BroadcastChannel) {
      return;
    }
    this.channel = new window.BroadcastChannel("d09-reading");
    this.channel.onmessage = function (event) {
      var data = event.data || {};
      if (data.ask) {
        self.say();
      } else if (data.tab) {
        self.others[data.tab] = data.room || null;
      }
    };
    this.channel.postMessage({ ask: true });
  }

  TabsReading.prototype.here = function () {
    return !!this.room && !document.hidden && document.hasFocus();
  };

  TabsReading.prototype.say = function () {
    if (this.channel) {
      this.channel.postMessage({ tab: TAB, room: this.here() ? this.room : null });
    }
  };

  TabsReading.prototype.reading = function (room) {
    if (room === this.room && this.here()) {
      return true;
    }
    return $.map(this.others, function (slug) { return slug; }).indexOf(room) >= 0;
  };

  TabsReading.prototype.leave = function () {
    if (this.channel) {
      this.channel.postMessage({ tab: TAB, room: null });
    }
  };

  /* A short tone, made here (no sound file): about 0.15 s at 880 Hz. */
  function Tone() {
    this.context = null;
  }

  Tone.prototype.prepare = function () {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!this.context && Context) {
      this.context = new Context();  // made on a click: browsers let it play
    }
  };

  Tone.prototype.play = function () {
    this.prepare();
    if (!this.context) {
      return;
    }
    var now = this.context.currentTime;
    var oscillator = this.context.createOscillator();
    var gain = this.context.createGain();
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, now);
    gain.gain.exponentialRampToValueAtTime(0.001, now + 0.15);
    oscillator.connect(gain).connect(this.context.destination);
    oscillator.start(now);
    oscillator.stop(now + 0.16);
  };

  function Notify(socket, options) {
    this.socket = socket;
    this.room = options.room || null;
    this.$controls = options.$controls || $();
    this.$status = this.$controls.find("#notify-status");
    this.level = null;
    this.tabs = new TabsReading(this.room);
    this.tone = new Tone();
    this.open = {};  // room -> the Notification shown for it
    this.bind();
    this.vapidKey = options.vapidKey || "";
    this.showDesktop();
    this.showSound();
    this.showPush();
  }

  Notify.prototype.bind = function () {
    var self = this;
    this.socket.on("notification_level", function (data) {
      if (data && data.room === self.room) {
        self.showLevel(data.level);
      }
    });
    this.socket.on("notification", function (data) {
      if (data && typeof data.id === "number" && typeof data.room === "string") {
        self.arrived(data);
      }
    });
    this.$controls.on("click", "#notify-level [data-level]", function () {
      self.choose(this.getAttribute("data-level"));
    });
    this.$controls.on("click", "#notify-desktop", function () {
      self.toggleDesktop();
    });
    this.$controls.on("click", "#notify-sound", function () {
      store(SOUND, !stored(SOUND));
      if (stored(SOUND)) {
        self.tone.prepare();
      }
      self.showSound();
    });
    if (this.room) {
      // The server pushes this room to the user's devices only while no tab shows it.
      this.socket.on("connect", function () { self.reportVisibility(); });
      $(document).on("visibilitychange", function () { self.reportVisibility(); });
    }
    this.$controls.on("click", "#notify-push", function () {
      self.togglePush();
    });
    $(document).on("visibilitychange", function () { self.tabs.say(); });
    $(window).on("focus blur", function () { self.tabs.say(); });
    $(window).on("pagehide", function () { self.tabs.leave(); });
  };

  /* -- the level of this room ------------------------------------------------ */

  Notify.prototype.showLevel = function (level) {
    this.level = level;
    this.$controls.find("#notify-level [data-level]").each(function () {
      var on = this.getAttribute("data-level") === level;
      $(this).attr("aria-pressed", on ? "true" : "false").toggleClass("active", on)
        .prop("disabled", false);
    });
  };

  Notify.prototype.choose = function (level) {
    var self = this;
    this.say("");
    this.socket.emit("notification_level", { level: level }, function (answer) {
      if (answer && answer.ok) {
        self.showLevel(answer.level);
      } else {
        self.say((answer && answer.error) || "The level could not be changed.");
      }
    });
  };

  /* -- desktop notifications --------------------------------------------------- */

  Notify.prototype.say = function (text) {
    this.$status.text(text).prop("hidden", !text);
  };

  Notify.prototype.desktopOn = function () {
    return stored(DESKTOP) && "Notification" in window &&
      window.Notification.permission === "granted";
  };

  Notify.prototype.showDesktop = function () {
    this.$controls.find("#notify-desktop").attr("aria-pressed", this.desktopOn() ? "true" : "false");
  };

  Notify.prototype.showSound = function () {
    this.$controls.find("#notify-sound").attr("aria-pressed", stored(SOUND) ? "true" : "false");
  };

  Notify.prototype.toggleDesktop = function () {
    var self = this;
    if (this.desktopOn()) {
      store(DESKTOP, false);
      this.say("");
      this.showDesktop();
      return;
    }
    if (!("Notification" in window)) {
      this.say(UNSUPPORTED);
      return;
    }
    var decided = function (permission) {
      store(DESKTOP, permission === "granted");
      self.say(permission === "granted" ? "" : BLOCKED);
      self.showDesktop();
    };
    if (window.Notification.permission !== "default") {
      decided(window.Notification.permission);
      return;
    }
    // Asked only now, on the reader's click (never on load).
    var asked = window.Notification.requestPermission(decided);
    if (asked && asked.then) {
      asked.then(decided);
    }
  };

  Notify.prototype.reportVisibility = function () {
    if (this.socket.connected) {
      this.socket.emit("visibility", { visible: !document.hidden }, function () {});
    }
  };

  /* -- Web Push: this browser as one of the user's devices ---------------------- */

  function pushSupported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  /* `promise`, or a failure saying `why` after `ms` (a browser whose push
   * service cannot be reached may never settle it). */
  function withinTime(promise, ms, why) {
    return new Promise(function (resolve, reject) {
      var timer = window.setTimeout(function () { reject(new Error(why)); }, ms);
      promise.then(function (value) {
        window.clearTimeout(timer);
        resolve(value);
      }, function (error) {
        window.clearTimeout(timer);
        reject(error);
      });
    });
  }

  /* The server's VAPID public key (base64url) as pushManager.subscribe takes it. */
  function keyBytes(base64url) {
    var text = window.atob(base64url.replace(/-/g, "+").replace(/_/g, "/") +
      "===".slice((base64url.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i += 1) {
      bytes[i] = text.charCodeAt(i);
    }
    return bytes;
  }

  Notify.prototype.showPush = function () {
    var $button = this.$controls.find("#notify-push");
    if (!$button.length || !pushSupported() || !this.vapidKey) {
      return;
    }
    navigator.serviceWorker.getRegistration("/").then(function (registration) {
      return registration ? registration.pushManager.getSubscription() : null;
    }).then(function (subscription) {
      $button.attr("aria-pressed", subscription ? "true" : "false");
    });
  };

  Notify.prototype.togglePush = function () {
    var self = this;
    var $button = this.$controls.find("#notify-push");
    if (!this.vapidKey) {
      this.say("Push notifications are off on this server (it has no VAPID keys).");
      return;
    }
    if (!pushSupported()) {
      this.say("This browser cannot get push notifications.");
      return;
    }
    var failed = function (error) {
      self.say(window.Notification.permission === "denied" ? BLOCKED :
        "Push could not be turned on: " + ((error && error.message) || error));
      self.showPush();
    };
    if ($button.attr("aria-pressed") === "true") {
      navigator.serviceWorker.getRegistration("/").then(function (registration) {
        return registration && registration.pushManager.getSubscription();
      }).then(function (subscription) {
        if (!subscription) {
          return null;
        }
        self.socket.emit("push_unsubscribe", { endpoint: subscription.endpoint }, function () {});
        return subscription.unsubscribe();
      }).then(function () {
        self.say("");
        self.showPush();
      }, failed);
      return;
    }
    // Permission is asked now, on the reader's click.
    Promise.resolve(window.Notification.requestPermission()).then(function (permission) {
      if (permission !== "granted") {
        throw new Error("permission " + permission);
      }
      return navigator.serviceWorker.register("/sw.js", { scope: "/" });
    }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (registration) {
      return registration.pushManager.getSubscription().then(function (known) {
        return known || withinTime(registration.pushManager.subscribe(
          { userVisibleOnly: true, applicationServerKey: keyBytes(self.vapidKey) }),
          SUBSCRIBE_WAIT, "the browser's push service did not answer (try again later)");
      });
    }).then(function (subscription) {
      self.socket.emit("push_subscribe", subscription.toJSON(), function (answer) {
        if (answer && answer.ok) {
          self.say("");
          $button.attr("aria-pressed", "true");
        } else {
          failed(new Error((answer && answer.error) || "the server did not take it"));
        }
      });
    }).catch(failed);
  };

  /* Only one tab of this browser shows a message's notification. */
  function claim(id) {
    try {
      if (window.localStorage.getItem(CLAIMED) === String(id)) {
        return false;
      }
      window.localStorage.setItem(CLAIMED, String(id));
    } catch (e) { /* no storage: each tab shows it; the tag keeps one */ }
    return true;
  }

  Notify.prototype.arrived = function (data) {
    if (this.tabs.reading(data.room) || !claim(data.id)) {
      return;
    }
    if (this.desktopOn()) {
      this.show(data);
    }
    if (stored(SOUND)) {
      this.tone.play();
    }
  };

  Notify.prototype.show = function (data) {
    var self = this;
    var where = data.kind === "direct" ? "" : " in #" + data.name;
    var shown = new window.Notification(String(data.user) + where, {
      body: String(data.text),
      tag: "d09-room-" + data.room,  // a newer one of the same room replaces it
      data: { url: data.url }
    });
    this.open[data.room] = shown;
    shown.onclick = function (event) {
      if (event && event.preventDefault) {
        event.preventDefault();
      }
      window.focus();
      shown.close();
      self.openAt(data);
    };
  };

  /* Open the room at the message: here if it is this room, else its page. */
  Notify.prototype.openAt = function (data) {
    if (data.room === this.room && chat.showMessage && chat.showMessage(data.id)) {
      return;
    }
    window.location.assign(String(data.url));
  };

  /* The room is read again: its notification has done its work. */
  Notify.prototype.seen = function () {
    var shown = this.open[this.room];
    if (shown) {
      shown.close();
      delete this.open[this.room];
    }
    this.tabs.say();
  };

  chat.notify = function (socket, options) {
    return new Notify(socket, options || {});
  };
})(jQuery);
