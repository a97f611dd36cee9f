/* Nothing a nurse types is lost (README "Nothing typed is lost").
 *
 * A form marked with data-draft="<kind>:<opaque id>" and data-draft-user="<user pk>":
 *
 * - Keeps a draft of its fields in this browser's localStorage as they are typed, under
 *   "cartmonitor.draft.<user pk>.<kind>:<opaque id>": ids that are already in the page's address,
 *   never a name or a number from the record. Hidden fields, and those named in
 *   data-draft-skip (a dose "give anyway" is a fresh decision each time), are not kept.
 * - On a page opened afresh (data-draft-restore="1": a GET, e.g. after logging in again), puts
 *   back a draft of the same user younger than a shift (12 hours), says so with the time it was
 *   typed, and offers to discard it. If the field named by data-draft-refresh (the check's
 *   observation time) changed, its htmx request is made again and the draft re-applied after
 *   the swap, so the carried-forward fields swapped in do not overwrite what was typed.
 * - Sends the form itself with fetch(). No connection: a message next to the Save button and
 *   the form stays as typed. A redirect comes back named in a header (FetchSubmitMiddleware):
 *   to the login page (the session ended) the draft is kept; to any other page the server has
 *   dealt with the form and the draft is removed. Any other answer (the form with errors):
 *   the form is sent again the ordinary way, and the browser shows the page as without this
 *   script. Without JavaScript the forms work as they always did.
 *
 * On every page that loads this file, drafts older than 12 hours are removed, whoever's they
 * are: a shared ward tablet does not keep yesterday's values.
 */
(function () {
  "use strict";

  var PREFIX = "cartmonitor.draft.";
  var MAX_AGE_MS = 12 * 60 * 60 * 1000; // a shift
  var CLOCK_SLACK_MS = 5 * 60 * 1000; // a draft "from the future": the device's clock moved
  var NOT_KEPT_TYPES = ["hidden", "password", "file", "submit", "button", "reset", "image"];

  function store() {
    try {
      return window.localStorage;
    } catch (e) {
      return null; // storage disabled: the forms still work, without drafts
    }
  }

  function read(key) {
    var storage = store();
    if (!storage) return null;
    try {
      var draft = JSON.parse(storage.getItem(key));
      return draft && typeof draft.at === "number" && draft.fields ? draft : null;
    } catch (e) {
      return null;
    }
  }

  function fresh(draft) {
    var age = Date.now() - draft.at;
    return age < MAX_AGE_MS && age > -CLOCK_SLACK_MS;
  }

  function write(key, fields) {
    var storage = store();
    if (!storage) return;
    try {
      storage.setItem(key, JSON.stringify({ v: 1, at: Date.now(), fields: fields }));
    } catch (e) {
      /* full or refused: the form itself is untouched */
    }
  }

  function remove(key) {
    var storage = store();
    if (storage) storage.removeItem(key);
  }

  function purgeOld() {
    var storage = store();
    if (!storage) return;
    var stale = [];
    for (var i = 0; i < storage.length; i++) {
      var key = storage.key(i);
      if (key && key.indexOf(PREFIX) === 0) {
        var draft = read(key);
        if (!draft || !fresh(draft)) stale.push(key);
      }
    }
    stale.forEach(function (key) {
      storage.removeItem(key);
    });
  }

  // --- The form's fields ---------------------------------------------------------------------

  function kept(form, element) {
    if (!element.name || element.tagName === "BUTTON" || element.tagName === "FIELDSET") {
      return false;
    }
    if (NOT_KEPT_TYPES.indexOf((element.type || "").toLowerCase()) >= 0) return false;
    var skip = (form.getAttribute("data-draft-skip") || "").split(/\s+/);
    return skip.indexOf(element.name) < 0;
  }

  function fieldsOf(form) {
    return Array.prototype.filter.call(form.elements, function (element) {
      return kept(form, element);
    });
  }

  function isChoice(element) {
    return element.type === "checkbox" || element.type === "radio";
  }

  /* {name: [values]}: the ticked values of a checkbox or radio group (none ticked: []), the
   * chosen options of a multiple select, or the value of each field of that name in order. */
  function snapshot(form) {
    var fields = {};
    fieldsOf(form).forEach(function (element) {
      var values = fields[element.name] || (fields[element.name] = []);
      if (isChoice(element)) {
        if (element.checked) values.push(element.value);
      } else if (element.tagName === "SELECT" && element.multiple) {
        Array.prototype.forEach.call(element.selectedOptions, function (option) {
          values.push(option.value);
        });
      } else {
        values.push(element.value);
      }
    });
    return fields;
  }

  function apply(form, fields) {
    var position = {};
    fieldsOf(form).forEach(function (element) {
      if (!Object.prototype.hasOwnProperty.call(fields, element.name)) return;
      var values = fields[element.name];
      if (isChoice(element)) {
        element.checked = values.indexOf(element.value) >= 0;
      } else if (element.tagName === "SELECT") {
        var index = position[element.name] || 0;
        position[element.name] = index + 1;
        Array.prototype.forEach.call(element.options, function (option) {
          if (element.multiple) {
            option.selected = values.indexOf(option.value) >= 0;
          } else if (option.value === values[index]) {
            option.selected = true; // an option no longer offered leaves the page's choice
          }
        });
      } else {
        var at = position[element.name] || 0;
        position[element.name] = at + 1;
        if (at < values.length) element.value = values[at];
      }
    });
  }

  // --- Messages (their text is in the page, translated) --------------------------------------

  function text(form, name) {
    var holder = form.querySelector('[data-draft-text="' + name + '"]');
    return holder ? holder.textContent.trim() : "";
  }

  function clock(at) {
    var when = new Date(at);
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (when.toDateString() !== new Date().toDateString()) {
      options.day = "numeric";
      options.month = "short";
    }
    try {
      return new Intl.DateTimeFormat(document.documentElement.lang || undefined, options).format(
        when
      );
    } catch (e) {
      return when.toTimeString().slice(0, 5);
    }
  }

  function showNotice(form, at) {
    var notice = form.querySelector("[data-draft-notice]");
    if (!notice) return;
    var message = notice.querySelector("[data-draft-notice-text]");
    var time = document.createElement("time");
    time.dateTime = new Date(at).toISOString();
    time.textContent = clock(at);
    var parts = text(form, "restored").split("__TIME__");
    message.textContent = "";
    message.appendChild(document.createTextNode(parts[0]));
    if (parts.length > 1) {
      message.appendChild(time);
      message.appendChild(document.createTextNode(parts.slice(1).join("")));
    }
    notice.hidden = false;
  }

  function showOffline(form, shown) {
    var slot = form.querySelector("[data-draft-offline]");
    if (!slot) return;
    slot.textContent = shown ? text(form, "offline") : "";
    slot.hidden = !shown;
  }

  // --- One form -------------------------------------------------------------------------------

  function setUp(form) {
    var user = form.getAttribute("data-draft-user");
    var name = form.getAttribute("data-draft");
    if (!user || !name) return;
    var key = PREFIX + user + "." + name;
    var typed = false; // something was typed on this page
    var restoring = false;
    var sending = false;

    function keep() {
      if (restoring) return;
      typed = true;
      write(key, snapshot(form));
    }
    form.addEventListener("input", keep);
    form.addEventListener("change", keep);

    // Fields swapped in by htmx (a new observation time) are part of what the draft holds.
    document.addEventListener("htmx:afterSettle", function (event) {
      if (!restoring && typed && form.contains(event.target)) write(key, snapshot(form));
    });

    var discard = form.querySelector("[data-draft-discard]");
    if (discard) {
      discard.addEventListener("click", function () {
        remove(key);
        // The page as the server draws it, without what was restored.
        window.location.replace(window.location.href);
      });
    }
    // Cancel means "not this check": its draft goes too.
    Array.prototype.forEach.call(form.querySelectorAll("[data-draft-cancel]"), function (link) {
      link.addEventListener("click", function () {
        remove(key);
      });
    });

    function done(state) {
      restoring = false;
      form.setAttribute("data-draft-state", state);
      // Scripts that follow the form's values (check_setting.js) look again at what came back.
      if (state === "restored") form.dispatchEvent(new Event("cartmonitor:draft-restored"));
    }

    var draft = form.getAttribute("data-draft-restore") === "1" ? read(key) : null;
    if (draft && fresh(draft)) {
      restoring = true;
      typed = true; // the draft stays until the server has the form
      var refresh = form.querySelector(form.getAttribute("data-draft-refresh") || "[data-none]");
      var before = refresh ? refresh.value : null;
      apply(form, draft.fields);
      showNotice(form, draft.at);
      if (refresh && refresh.value !== before && window.htmx) {
        // The page was drawn for another time: fetch its carried-forward fields for the
        // restored one, then put the typed values back over what the swap brought.
        var settled = function () {
          document.removeEventListener("htmx:afterSettle", onSettle);
          document.removeEventListener("htmx:sendError", onFailure);
          document.removeEventListener("htmx:responseError", onFailure);
          window.clearTimeout(timer);
        };
        var onSettle = function (event) {
          if (!form.contains(event.target)) return;
          settled();
          apply(form, draft.fields);
          done("restored");
        };
        var onFailure = function () {
          settled();
          done("restored");
        };
        var timer = window.setTimeout(onFailure, 15000);
        document.addEventListener("htmx:afterSettle", onSettle);
        document.addEventListener("htmx:sendError", onFailure);
        document.addEventListener("htmx:responseError", onFailure);
        refresh.dispatchEvent(new Event("change", { bubbles: true }));
      } else {
        done("restored");
      }
    } else {
      if (draft) remove(key);
      done("none");
    }

    // --- Saving ---------------------------------------------------------------------------------

    function sendNatively(submitter) {
      form.setAttribute("data-draft-native", "1");
      if (form.requestSubmit) {
        form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
      } else {
        form.submit();
      }
    }

    function body(submitter) {
      var data;
      try {
        data = new FormData(form, submitter || undefined);
      } catch (e) {
        data = new FormData(form);
        if (submitter && submitter.name) data.append(submitter.name, submitter.value);
      }
      return new URLSearchParams(data);
    }

    // Back to this page from the next one (the browser's page cache keeps it as it was left):
    // Save must work again, through this script.
    window.addEventListener("pageshow", function (event) {
      if (!event.persisted) return;
      sending = false;
      form.removeAttribute("aria-busy");
      form.removeAttribute("data-draft-native");
    });

    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-draft-native") === "1" || !window.fetch) return;
      event.preventDefault();
      if (sending) return; // a second tap on Save while the first is on its way
      sending = true;
      form.setAttribute("aria-busy", "true");
      showOffline(form, false);
      var submitter = event.submitter;
      if (typed) write(key, snapshot(form));
      window
        .fetch(form.action, {
          method: "POST",
          body: body(submitter),
          credentials: "same-origin",
          redirect: "manual",
          cache: "no-store",
          headers: { "X-Cartmonitor-Submit": "1" },
        })
        .then(
          function (response) {
            var target = response.headers.get("X-Cartmonitor-Location");
            if (response.status === 204 && target) {
              if (response.headers.get("X-Cartmonitor-Login") !== "1") remove(key);
              window.location.assign(target);
              return;
            }
            // Errors to correct, a dose to decide, a refusal: the page the browser would show.
            sending = false;
            sendNatively(submitter);
          },
          function () {
            // No connection, or it dropped before the answer came: keep everything as typed.
            sending = false;
            form.removeAttribute("aria-busy");
            showOffline(form, true);
          }
        );
    });
  }

  function start() {
    purgeOld();
    Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), setUp);
  }

  // After htmx (loaded before this file, also deferred) has wired the page up, which it does
  // on DOMContentLoaded: a deferred script runs before that event, while the state is already
  // "interactive". The load event is the safety net for a script that arrives later.
  var started = false;
  function startOnce() {
    if (started) return;
    started = true;
    start();
  }
  if (document.readyState === "complete") {
    startOnce();
  } else {
    document.addEventListener("DOMContentLoaded", startOnce);
    window.addEventListener("load", startOnce);
  }
})();
