// A form sent back with problems: focus its error summary (templates/monitoring/_partials/
// _error_summary.html) so a screen reader reads the problems first and Tab starts there; each
// link in it moves focus to its field, its label in view (a plain #id link scrolls, but leaves
// focus behind).
(function () {
  "use strict";
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
  function init() {
    var summary = document.querySelector("[data-error-summary]");
    if (!summary) return;
    summary.querySelectorAll('a[href^="#"]').forEach(function (link) {
      link.addEventListener("click", focusField);
    });
    summary.focus();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
