/* The flag board refreshes itself every 30 s (htmx hx-get of its partial). This file keeps
 * that refresh from getting in a clinician's way, and from failing silently:
 * - no refresh while an acknowledge/resolve form is open or being typed in (it would be lost);
 * - a refresh that lands on the login page (session expired) reloads the page instead of
 *   drawing the login form inside the board;
 * - a failed refresh shows a warning that the board may be out of date.
 * Loaded from a static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  function board() {
    return document.getElementById("flag-board");
  }

  function fromBoard(event) {
    const element = board();
    return element !== null && event.detail.elt === element;
  }

  function busy(element) {
    if (element.querySelector("details[open]")) {
      return true;
    }
    const active = document.activeElement;
    return active !== null && element.contains(active) && active.matches("input, textarea, select");
  }

  function showStale(stale) {
    const note = document.getElementById("board-stale");
    if (note !== null) {
      note.classList.toggle("d-none", !stale);
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    if (fromBoard(event) && busy(board())) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!fromBoard(event)) {
      return;
    }
    const loginUrl = board().dataset.loginUrl;
    const landed = new URL(event.detail.xhr.responseURL || window.location.href);
    if (loginUrl && landed.pathname === loginUrl) {
      event.detail.shouldSwap = false;
      window.location.reload();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    if (fromBoard(event)) {
      showStale(true);
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    if (fromBoard(event)) {
      showStale(true);
    }
  });
})();
