/*
 * d09's service worker (served at /sw.js, scope "/"): shows the Web Push
 * notifications the server sends (chat/notify/push.py) when no tab shows the
 * room: {title, body, url, tag, badge}. One per room at a time (its tag); a
 * click focuses a tab of the site and opens the room at the message.
 */
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  var shown = self.registration.showNotification(String(data.title || "d09 chat"), {
    body: String(data.body || ""),
    tag: String(data.tag || "d09"),
    data: { url: String(data.url || "/chat/") }
  });
  if (self.navigator.setAppBadge && typeof data.badge === "number") {
    self.navigator.setAppBadge(data.badge).catch(function () {});
  }
  event.waitUntil(shown);
});

self.addEventListener("notificationclick", function (event) {
  var url = new URL(event.notification.data.url, self.location.origin);
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true })
    .then(function (tabs) {
      for (var i = 0; i < tabs.length; i += 1) {
        if (new URL(tabs[i].url).origin === url.origin && "focus" in tabs[i]) {
          // navigate() works on a tab this worker controls; else a new one.
          return tabs[i].focus().then(function (tab) { return tab.navigate(url.href); })
            .catch(function () { return self.clients.openWindow(url.href); });
        }
      }
      return self.clients.openWindow(url.href);
    }));
});
