// Accessibility helpers for every page (loaded by base.html).
(function () {
  "use strict";

  // A form sent back with problems: focus its error summary (templates/monitoring/_partials/
  // _error_summary.html) so a screen reader reads the problems first and Tab starts there;
  // each link in it moves focus to its field, its label in view (a plain #id link scrolls,
  // but leaves focus behind).
  function focusField(event) {
    var id = this.getAttribute("href").slice(1);
    var field = document.getElementById(id);
    if (!field) return;
    event.preventDefault();
    var label = document.querySelector('label[for="' + id + '"]');
    var fieldset = field.closest("fieldset");
    var legend = fieldset && fieldset.querySelector("legend");
    (label || legend || field).scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  }
  function errorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.querySelectorAll('a[href^="#"]').forEach(function (link) {
      link.addEventListener("click", focusField);
    });
    summary.focus();
  }

  // A table wider than the screen scrolls sideways inside .table-responsive: make such a box
  // reachable by Tab so a keyboard user can scroll it with the arrow keys (WCAG 2.1.1). Only
  // boxes that do scroll become tab stops; a window turned or resized is checked again.
  function scrollableTables() {
    document.querySelectorAll(".table-responsive").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
      } else if (box.getAttribute("tabindex") === "0") {
        box.removeAttribute("tabindex");
      }
    });
  }

  function init() {
    errorSummary();
    scrollableTables();
    var pending;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(scrollableTables, 150);
    });
    // Regions htmx redraws (the board, the worklist) may bring new tables.
    document.body.addEventListener("htmx:afterSettle", scrollableTables);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
