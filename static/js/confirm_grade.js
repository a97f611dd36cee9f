/* The confirm/override form on the course page starts at the computed grade of the moment and
 * domain chosen, never at 0 (each moment's <option> carries data-crs / data-icans, from
 * forms.care_team.SnapshotSelect). A grade below the computed one shows the second
 * confirmation, "I confirm the lower grade", which the server requires as well
 * (services.confirm_grade). Without JavaScript the form still works: the server starts at the
 * computed grade of the preselected moment and asks for the second confirmation on save.
 * Loaded from a static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  function setUp(form) {
    const snapshot = form.querySelector("select[name=snapshot]");
    const domain = form.querySelector("select[name=domain]");
    const grade = form.querySelector("select[name=grade]");
    const lower = document.getElementById("confirm-lower");
    if (snapshot === null || domain === null || grade === null) {
      return;
    }

    function computed() {
      const option = snapshot.options[snapshot.selectedIndex];
      const value = option ? option.dataset[domain.value] : undefined;
      return value === undefined || value === "" ? null : Number(value);
    }

    function showLower() {
      const current = computed();
      const isLower = current !== null && grade.value !== "" && Number(grade.value) < current;
      if (lower !== null) {
        lower.classList.toggle("d-none", !isLower);
      }
    }

    function startAtComputed() {
      const current = computed();
      grade.value = current === null ? "" : String(current);
      showLower();
    }

    snapshot.addEventListener("change", startAtComputed);
    domain.addEventListener("change", startAtComputed);
    grade.addEventListener("change", showLower);
    showLower();
  }

  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("confirm-grade-form");
    if (form !== null) {
      setUp(form);
    }
  });
})();
