/* The check page shows only what the chosen setting can record (issue 14: a phone call measures
 * no pulse, blood pressure, SpO2, oxygen or vasopressors, no ICE/CAPD screen and no lab).
 *
 * What each setting hides comes from the server (forms.nurse.CheckPage.setting_hides, made from
 * REMOTE_CHECKS) in the form's data-setting-hides attribute (JSON); the note saying why
 * is in the page, translated ([data-setting-note]). Choosing such a setting:
 * - hides those sections and fields and disables their inputs, so they are not sent; what was
 *   typed in them stays in the page and comes back when another setting is chosen;
 * - the carried oxygen and vasopressors ([data-carried]) are still sent as the page showed them
 *   (the server stores them as not recorded on a phone call): a value changed there is put
 *   back while hidden, and the changed one returns with another setting;
 * - the note lists the fields holding a value that this check will not save.
 * The server refuses what the setting cannot record whatever is sent; without JavaScript every
 * field stays on the page, with the setting's help text. Loaded from a static file: the
 * Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  function chosen(form) {
    var radio = form.querySelector("input[name=setting]:checked");
    return radio ? radio.value : "";
  }

  function isChoice(input) {
    return input.type === "checkbox" || input.type === "radio";
  }

  function holdsValue(input) {
    if (input.type === "hidden") return false;
    if (isChoice(input)) return input.checked;
    if (input.tagName === "SELECT") {
      return Array.prototype.some.call(input.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return input.value.trim() !== "";
  }

  function changed(input) {
    if (isChoice(input)) return input.checked !== input.defaultChecked;
    if (input.tagName === "SELECT") {
      return Array.prototype.some.call(input.options, function (option) {
        return option.selected !== option.defaultSelected;
      });
    }
    return input.value !== input.defaultValue;
  }

  function putBack(input) {
    if (isChoice(input)) {
      input.checked = input.defaultChecked;
    } else if (input.tagName === "SELECT") {
      Array.prototype.forEach.call(input.options, function (option) {
        option.selected = option.defaultSelected;
      });
    } else {
      input.value = input.defaultValue;
    }
  }

  function valueOf(input) {
    return isChoice(input) ? input.checked : input.value;
  }

  function restore(input, kept) {
    if (isChoice(input)) {
      input.checked = kept;
    } else {
      input.value = kept;
    }
  }

  function labelOf(input) {
    var label = input.id ? document.querySelector('label[for="' + input.id + '"]') : null;
    var text = label ? label.textContent : input.name;
    return text.replace(/\*\s*$/, "").replace(/\s+/g, " ").trim();
  }

  /* The grid cell (or the field's own wrapper) that holds an input. */
  function cellOf(input) {
    return input.closest("[class*='col-']") || input.closest(".mb-3") || input.parentElement;
  }

  function setUp(form, hides) {
    var stash = new WeakMap(); // carried inputs changed before being hidden -> their value

    function inputsOf(container) {
      return container ? container.querySelectorAll("input, select, textarea") : [];
    }

    function hide(container, inputs, hidden, kept) {
      if (container) container.hidden = hidden;
      Array.prototype.forEach.call(inputs, function (input) {
        if (input.type === "hidden") return;
        if (input.closest("[data-carried]")) {
          if (hidden && changed(input)) {
            stash.set(input, valueOf(input));
            putBack(input);
          } else if (!hidden && stash.has(input)) {
            restore(input, stash.get(input));
            stash.delete(input);
          }
          if (hidden && stash.has(input)) kept.push(labelOf(input));
          return;
        }
        input.disabled = hidden;
        if (hidden && holdsValue(input)) kept.push(labelOf(input));
      });
    }

    function apply() {
      var rule = hides[chosen(form)] || { sections: [], fields: [] };
      var kept = [];
      var hiddenCells = [];
      Object.keys(hides).forEach(function (setting) {
        hides[setting].sections.forEach(function (id) {
          var section = document.getElementById(id);
          if (rule.sections.indexOf(id) < 0) hide(section, inputsOf(section), false, kept);
        });
        hides[setting].fields.forEach(function (name) {
          if (rule.fields.indexOf(name) >= 0) return;
          Array.prototype.forEach.call(form.querySelectorAll('[name="' + name + '"]'), function (
            input
          ) {
            hide(cellOf(input), [input], false, kept);
          });
        });
      });
      rule.sections.forEach(function (id) {
        var section = document.getElementById(id);
        hide(section, inputsOf(section), true, kept);
      });
      rule.fields.forEach(function (name) {
        Array.prototype.forEach.call(form.querySelectorAll('[name="' + name + '"]'), function (
          input
        ) {
          var cell = cellOf(input);
          hiddenCells.push(cell);
          hide(cell, [input], true, kept);
        });
      });
      // The carried-from line goes with the oxygen and vasopressors it is about.
      Array.prototype.forEach.call(form.querySelectorAll(".carried-from"), function (line) {
        line.hidden = rule.fields.length > 0 && !!line.closest("[data-carried]");
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-setting-note]"), function (note) {
        note.hidden = note.getAttribute("data-setting-note") !== chosen(form);
        var keptText = note.querySelector("[data-kept-text]");
        var list = note.querySelector("[data-kept-list]");
        if (keptText && list) {
          list.textContent = kept.join(", ");
          keptText.hidden = kept.length === 0;
        }
      });
    }

    form.addEventListener("change", function (event) {
      if (event.target.name === "setting") apply();
    });
    // New carried fields swapped in for another time (htmx), or a draft put back.
    document.addEventListener("htmx:afterSettle", function (event) {
      if (form.contains(event.target)) apply();
    });
    form.addEventListener("cartmonitor:draft-restored", apply);
    apply();
  }

  function start() {
    var form = document.querySelector("form[data-check-setting][data-setting-hides]");
    if (!form) return;
    var hides;
    try {
      hides = JSON.parse(form.dataset.settingHides);
    } catch (e) {
      return; // every field stays on the page; the server still refuses
    }
    setUp(form, hides);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
