// The profile's "Enable push on this browser" / "Remove this browser" (no inline script: the
// Content-Security-Policy forbids it). Registers the service worker served at /sw.js (scope
// "/"), subscribes with the server's VAPID public key and sends the subscription to the server,
// which stores it and turns push on (monitoring/notification_centre.py).
(() => {
  const box = document.getElementById("push-browser");
  if (!box) return;
  const status = box.querySelector("[data-push-status]");
  const enable = box.querySelector("[data-push-enable]");
  const remove = box.querySelector("[data-push-remove]");
  const csrf = box.querySelector("input[name=csrfmiddlewaretoken]").value;
  const say = (text) => {
    status.textContent = text;
  };
  // The words come from the template ({% translate %} into data-say-* attributes): no JS catalogue.
  const words = box.dataset;
  const fill = (template, values) => template.replace(/%\((\w+)\)s/g, (_, name) => values[name] ?? "");

  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !window.isSecureContext) {
    say(words.sayUnsupported);
    return;
  }

  // The browsers the server has for this user: a subscription it does not know (removed, or
  // taken over by someone else on a shared computer) is not "on".
  const known = new Set(
    Array.from(document.querySelectorAll("#push-browsers [data-endpoint]"), (li) => li.dataset.endpoint),
  );

  const keyBytes = (base64url) => {
    const base64 = (base64url + "=".repeat((4 - (base64url.length % 4)) % 4))
      .replace(/-/g, "+")
      .replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  };

  const post = async (url, data) => {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(data),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || fill(words.sayServer, { status: response.status }));
    return body;
  };

  const registration = () => navigator.serviceWorker.register(box.dataset.workerUrl, { scope: "/" });

  const show = (subscription) => {
    const on = Boolean(subscription) && known.has(subscription.endpoint);
    enable.hidden = on;
    remove.hidden = !on;
    say(on ? words.sayOn : words.sayOff);
  };

  registration()
    .then((reg) => reg.pushManager.getSubscription())
    .then(show)
    .catch((error) => say(fill(words.saySetupFailed, { error: error.message })));

  enable.addEventListener("click", async () => {
    enable.disabled = true;
    try {
      const permission = await Notification.requestPermission();
      if (permission !== "granted") {
        throw new Error(words.sayBlocked);
      }
      const reg = await registration();
      const subscription = await reg.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(box.dataset.vapidKey),
      });
      try {
        await post(box.dataset.subscribeUrl, subscription.toJSON());
      } catch (error) {
        await subscription.unsubscribe(); // the server refused it: do not leave it half on
        throw error;
      }
      say(words.sayOn);
      window.location.reload(); // the list of browsers and the push switch changed
    } catch (error) {
      say(fill(words.sayNotEnabled, { error: error.message }));
    } finally {
      enable.disabled = false;
    }
  });

  remove.addEventListener("click", async () => {
    remove.disabled = true;
    try {
      const reg = await registration();
      const subscription = await reg.pushManager.getSubscription();
      if (subscription) {
        await post(box.dataset.removeUrl, { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      window.location.reload();
    } catch (error) {
      say(fill(words.sayNotRemoved, { error: error.message }));
    } finally {
      remove.disabled = false;
    }
  });
})();
