/* The handwriting drawing pad (templates/monitoring/_partials/_handwriting_pad.html): a finger,
 * a stylus or a mouse writes on a canvas (pointer events); Undo takes back the last stroke,
 * Clear all of them. After each stroke the picture goes into the hidden "drawing" field as a
 * PNG data URL, so the form sends it like any other value, and a page that comes back with an
 * error draws it again. The server decodes, cleans and scales it (monitoring/handwriting.py).
 * The pad is hidden until this script runs: without it, the photo field is the way to send the
 * sentence, and it is also the keyboard's way. Loaded from a static file: the
 * Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  function setUp(pad) {
    var canvas = pad.querySelector("canvas");
    var field = pad.querySelector("input[name=drawing]");
    var context = canvas.getContext("2d");
    var strokes = [];
    var current = null;
    var earlier = null; // a drawing sent before (the page came back with an error)

    function scale() {
      return window.devicePixelRatio || 1;
    }

    function size() {
      var ratio = scale();
      canvas.width = Math.round(canvas.clientWidth * ratio);
      canvas.height = Math.round(canvas.clientHeight * ratio);
      redraw();
    }

    function point(event) {
      var box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
    }

    function drawStroke(stroke) {
      var w = canvas.width;
      var h = canvas.height;
      context.beginPath();
      context.moveTo(stroke[0][0] * w, stroke[0][1] * h);
      for (var i = 1; i < stroke.length; i++) {
        context.lineTo(stroke[i][0] * w, stroke[i][1] * h);
      }
      if (stroke.length === 1) context.lineTo(stroke[0][0] * w + 0.5, stroke[0][1] * h + 0.5);
      context.stroke();
    }

    function redraw() {
      context.clearRect(0, 0, canvas.width, canvas.height);
      if (earlier) context.drawImage(earlier, 0, 0, canvas.width, canvas.height);
      context.lineWidth = 3 * scale();
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#000";
      strokes.forEach(drawStroke);
    }

    function save() {
      field.value = strokes.length || earlier ? canvas.toDataURL("image/png") : "";
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      current = [point(event)];
      strokes.push(current);
      redraw();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!current) return;
      event.preventDefault();
      current.push(point(event));
      redraw();
    });
    function finish() {
      if (!current) return;
      current = null;
      save();
    }
    canvas.addEventListener("pointerup", finish);
    canvas.addEventListener("pointercancel", finish);

    pad.querySelector("[data-pad-undo]").addEventListener("click", function () {
      if (strokes.length) strokes.pop();
      else earlier = null;
      redraw();
      save();
    });
    pad.querySelector("[data-pad-clear]").addEventListener("click", function () {
      strokes = [];
      earlier = null;
      redraw();
      save();
    });

    pad.hidden = false;
    size();
    window.addEventListener("resize", size);
    if (field.value.indexOf("data:image/png;base64,") === 0) {
      var image = new Image();
      image.onload = function () {
        earlier = image;
        redraw();
      };
      image.src = field.value;
    }
  }

  document.querySelectorAll("[data-handwriting-pad]").forEach(setUp);
})();
