/* Pages that refresh themselves every 30 s (the board, the worklist, the wall display: an
 * element with class "live-region" and htmx polling attributes, templates/monitoring/_partials/
 * _poll.html). This file marks that refresh as a poll (not a person's activity), and keeps it
 * from getting in a clinician's way, and from failing silently:
 * - no refresh while an acknowledge/resolve form is open or a note is being typed (it would
 *   be lost);
 * - patients expanded on the board stay expanded across a refresh (their flags load again);
 * - a failed refresh shows a warning that the page may be out of date.
 * An expired session is sent to the login page by the server (HX-Redirect,
 * cartmonitor.middleware.HtmxLoginRedirectMiddleware), never drawn inside the page.
 * Loaded from a static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  const POLL_HEADER = "X-Cartmonitor-Poll";
  let expanded = [];

  function ownRefresh(event) {
    const element = event.detail.elt;
    return element !== null && element.classList.contains("live-region");
  }

  function busy(region) {
    if (region.querySelector("details.flag-action[open]")) {
      return true;
    }
    for (const note of region.querySelectorAll("input.flag-note")) {
      if (note.value.trim() !== "") {
        return true;
      }
    }
    const active = document.activeElement;
    return active !== null && region.contains(active) && active.matches("input, textarea, select");
  }

  function showStale(region, stale) {
    const note = region.querySelector(".live-stale");
    if (note !== null) {
      note.classList.toggle("d-none", !stale);
    }
  }

  // The region's own refresh says so: the server does not count it as activity (the idle
  // logout, cartmonitor.middleware.IdleSessionMiddleware). Clicks inside the region are not
  // marked, which is why this is not an hx-headers attribute (htmx merges those into every
  // request made by the region's descendants).
  document.addEventListener("htmx:configRequest", function (event) {
    if (ownRefresh(event)) {
      event.detail.headers[POLL_HEADER] = "1";
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!ownRefresh(event)) {
      return;
    }
    const region = event.detail.elt;
    if (busy(region)) {
      event.preventDefault();
      return;
    }
    expanded = Array.from(region.querySelectorAll("details.patient-flags[open]"), (d) => d.id);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!ownRefresh(event)) {
      return;
    }
    for (const id of expanded) {
      const details = document.getElementById(id);
      if (details !== null) {
        details.open = true; // its "toggle" loads the flags again (hx-trigger="toggle once")
      }
    }
    expanded = [];
  });

  function failed(event) {
    if (ownRefresh(event)) {
      showStale(event.detail.elt, true);
    }
  }

  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();
