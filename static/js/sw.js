// cartmonitor's service worker, served at /sw.js (scope "/"): shows a Web Push notification and
// opens its link when clicked. The payload (monitoring/delivery.py) carries the minimum-necessary
// title, the severity and the link, never the patient's details.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { title: event.data.text() };
  }
  const title = data.title || "cartmonitor";
  const body = data.severity ? `${data.severity} — open cartmonitor` : "Open cartmonitor";
  event.waitUntil(
    self.registration.showNotification(title, {
      body,
      data: { url: data.url || "/" },
      requireInteraction: data.severity === "Critical",
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((client) => client.url === url && "focus" in client);
      return open ? open.focus() : self.clients.openWindow(url);
    }),
  );
});
