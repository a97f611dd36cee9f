/* The course page's charts (Chart.js 4, vendored). One line chart per spec in
 * #course-charts[data-charts], all on the same linear time axis: days since infusion, where
 * D+2 at noon is 2.5 and the ticks read "D+n". The gradeBands plugin draws the CRS and ICANS
 * grades (confirmed where a clinician confirmed) as coloured bands along the top of each chart.
 *
 * The specs come from monitoring/views/care_team.py (CourseRecord.charts): a point is
 * [x, y, "D+n HH:MM", optional label]; a dataset with `line` is a horizontal reference line.
 * Loaded from a static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  // Grades 0-4 in the colours of the grade badges (static/css/care_team.css .band-g*).
  const GRADE_COLOURS = ["#8ce99a", "#ffc107", "#fd7e14", "#dc3545", "#212529"];
  const NOT_GRADED = "#f1f3f5";
  const BAND_HEIGHT = 8;
  const BAND_GAP = 3;

  function dayLabel(value) {
    if (!Number.isInteger(value)) {
      return "";
    }
    return value >= 0 ? "D+" + value : "D" + value;
  }

  const gradeBands = {
    id: "gradeBands",
    afterDraw(chart, _args, options) {
      const bands = options.bands || [];
      const area = chart.chartArea;
      const x = chart.scales.x;
      const ctx = chart.ctx;
      ctx.save();
      bands.forEach(function (band, index) {
        const top = area.top - (bands.length - index) * (BAND_HEIGHT + BAND_GAP) - 6;
        ctx.fillStyle = "#495057";
        ctx.font = "10px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.textBaseline = "middle";
        ctx.fillText(band.label, area.left - 4, top + BAND_HEIGHT / 2);
        ctx.fillStyle = NOT_GRADED;
        ctx.fillRect(area.left, top, area.right - area.left, BAND_HEIGHT);
        band.segments.forEach(function (segment) {
          const left = Math.max(x.getPixelForValue(segment[0]), area.left);
          const right = Math.min(x.getPixelForValue(segment[1]), area.right);
          if (right > left) {
            ctx.fillStyle = GRADE_COLOURS[segment[2]];
            ctx.fillRect(left, top, right - left, BAND_HEIGHT);
          }
        });
      });
      ctx.restore();
    },
  };

  function axis(spec, position, secondary) {
    const scale = {
      type: spec.type || "linear",
      position: position,
      title: { display: Boolean(spec.title), text: spec.title },
      grid: { drawOnChartArea: !secondary },
    };
    ["min", "max", "suggestedMin", "suggestedMax"].forEach(function (key) {
      if (spec[key] !== undefined) {
        scale[key] = spec[key];
      }
    });
    if (spec.labels) {
      scale.ticks = {
        stepSize: 1,
        callback: function (value) {
          return spec.labels[value] || "";
        },
      };
    }
    return scale;
  }

  function dataset(spec, range) {
    if (spec.line !== undefined) {
      return {
        label: spec.label,
        data: [[range.min, spec.line], [range.max, spec.line]],
        borderColor: spec.color,
        borderDash: [6, 4],
        borderWidth: 1,
        pointRadius: 0,
        pointHitRadius: 0,
        yAxisID: spec.axis,
        reference: true,
      };
    }
    return {
      label: spec.label,
      data: spec.data,
      borderColor: spec.color,
      backgroundColor: spec.color,
      borderWidth: 1.5,
      pointRadius: spec.data.length > 120 ? 1 : 2.5,
      yAxisID: spec.axis,
      stepped: spec.stepped ? "after" : false, // a support level holds until the next reading
    };
  }

  function config(spec, data) {
    const range = data.x;
    const scales = {
      x: {
        type: "linear",
        min: range.min,
        max: range.max,
        ticks: { stepSize: 1, callback: dayLabel, maxRotation: 0, autoSkip: true },
        title: { display: true, text: "days since infusion" },
      },
      y: axis(spec.axes.y, "left", false),
    };
    if (spec.axes.y2) {
      scales.y2 = axis(spec.axes.y2, "right", true);
    }
    return {
      type: "line",
      data: { datasets: spec.datasets.map(function (d) { return dataset(d, range); }) },
      plugins: [gradeBands],
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        parsing: true,
        layout: { padding: { top: data.bands.length * (BAND_HEIGHT + BAND_GAP) + 10 } },
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: scales,
        plugins: {
          gradeBands: { bands: data.bands },
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            filter: function (item) {
              return !item.dataset.reference;
            },
            callbacks: {
              title: function (items) {
                const raw = items.length ? items[0].raw : null;
                return raw && raw[2] ? raw[2] : "";
              },
              label: function (item) {
                const label = item.raw && item.raw[3];
                return item.dataset.label + ": " + (label || item.formattedValue);
              },
            },
          },
        },
      },
    };
  }

  function resizeAll() {
    Object.values(Chart.instances).forEach(function (chart) {
      chart.resize();
    });
  }

  function draw() {
    const root = document.getElementById("course-charts");
    if (root === null || typeof Chart === "undefined") {
      return;
    }
    const data = JSON.parse(root.dataset.charts);
    data.charts.forEach(function (spec) {
      const canvas = document.getElementById(spec.id);
      if (canvas !== null) {
        new Chart(canvas, config(spec, data));
      }
    });
    // Printing changes the page width (print CSS makes every chart full width): redraw.
    window.addEventListener("beforeprint", resizeAll);
    window.addEventListener("afterprint", resizeAll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
