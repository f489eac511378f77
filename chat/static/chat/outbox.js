/*
 * The outbox: the reader's lines that the server has not stored yet, in the
 * order typed, kept in sessionStorage (one list per user and room, per tab) so
 * that a reload loses none of them.
 *
 *   var outbox = d09Chat.outbox("alice", "general");
 *   outbox.add(text)             // a new entry, pending, with a fresh client_message_id
 *   outbox.entries()             // every entry, in the order typed
 *   outbox.get(cid)              // the entry of that client_message_id, or null
 *   outbox.update(cid, changes)  // {state: "pending"} or {state: "failed", error}
 *   outbox.remove(cid)           // stored (its ack, broadcast or history came) or discarded
 *   outbox.count("pending")
 *
 * An entry is {client_message_id, text, created (ISO, when typed), state,
 * error}. An entry leaves the outbox only when the server has the line or the
 * reader discards it: a lost connection leaves it pending, to be sent again
 * with the same client_message_id (the server answers a resend with the first
 * id: README, "Exactly once").
 */
(function ($) {
  "use strict";

  var chat = (window.d09Chat = window.d09Chat || {});

  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var ID_LENGTH = 22;  // 132 random bits; the server takes 8 to 64 of [A-Za-z0-9_-]

  /* A random client_message_id: 64 symbols, so each byte & 63 is uniform. */
  function newId() {
    var bytes = window.crypto.getRandomValues(new Uint8Array(ID_LENGTH));
    var id = "";
    for (var i = 0; i < bytes.length; i += 1) {
      id += ALPHABET.charAt(bytes[i] & 63);
    }
    return id;
  }

  function Outbox(user, room) {
    this.key = "d09.outbox:" + JSON.stringify([user, room]);
    this.list = this.load();
  }

  Outbox.prototype.load = function () {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(this.key) || "[]");
      return $.grep(Array.isArray(saved) ? saved : [], function (entry) {
        return entry && typeof entry.client_message_id === "string" &&
          typeof entry.text === "string";
      });
    } catch (error) {
      return [];  // storage off or unreadable: the outbox lives in the page only
    }
  };

  Outbox.prototype.save = function () {
    var kept = $.map(this.list, function (entry) {
      return {
        client_message_id: entry.client_message_id, text: entry.text, created: entry.created,
        state: entry.state, error: entry.error || null
      };
    });
    try {
      if (kept.length) {
        window.sessionStorage.setItem(this.key, JSON.stringify(kept));
      } else {
        window.sessionStorage.removeItem(this.key);
      }
    } catch (error) {
      // Full or off: the entries still live in the page.
    }
  };

  Outbox.prototype.add = function (text) {
    var entry = {
      client_message_id: newId(), text: text, created: new Date().toISOString(),
      state: "pending", error: null
    };
    this.list.push(entry);
    this.save();
    return entry;
  };

  Outbox.prototype.entries = function () {
    return this.list.slice();
  };

  Outbox.prototype.get = function (cid) {
    for (var i = 0; i < this.list.length; i += 1) {
      if (this.list[i].client_message_id === cid) {
        return this.list[i];
      }
    }
    return null;
  };

  Outbox.prototype.update = function (cid, changes) {
    var entry = this.get(cid);
    if (entry) {
      $.extend(entry, changes);
      this.save();
    }
    return entry;
  };

  Outbox.prototype.remove = function (cid) {
    var entry = this.get(cid);
    if (entry) {
      this.list.splice($.inArray(entry, this.list), 1);
      this.save();
    }
    return entry;
  };

  Outbox.prototype.count = function (state) {
    return $.grep(this.list, function (entry) { return entry.state === state; }).length;
  };

  chat.outbox = function (user, room) {
    return new Outbox(user, room);
  };
})(jQuery);
