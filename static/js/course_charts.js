/* The course page's charts (Chart.js 4, vendored). One line chart per canvas in
 * #course-charts and the infection section, all on the same linear time axis: days since
 * infusion, where D+2 at noon is 2.5 and the ticks read "D+n". The gradeBands plugin draws the
 * CRS and ICANS grades (confirmed where a clinician confirmed) as coloured bands along the top
 * of each chart, each segment with its grade written in it where it is wide enough, the grade
 * now in a box at the band's end (a grade that changed an hour ago is only a sliver of a
 * two-week axis), and a dashed line at now.
 *
 * The points are fetched once from #course-charts[data-charts-url] (views.care_team.
 * course_charts, built by monitoring/course_page.py): the browser keeps the answer and asks
 * again with its ETag each time the page opens, so an unchanged course costs a 304. Nothing
 * in it moves with the clock: the page says where now is (data-now, only while the course is
 * monitored), and here the axis is carried on to today and the grade that holds now
 * (band.current) on to now, or to the axis's end once monitoring is over. A point is
 * [x, y, "D+n HH:MM", optional label]; a dataset with `line` is a horizontal reference line.
 * Words come from the page (data-x-title, data-now-label), translated there. Every chart's
 * values are in a table under it, loaded when opened
 * (templates/monitoring/common/_chart_table_on_demand.html).
 * Loaded from a static file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";

  // Grades 0-4 in the colours of the grade badges (static/css/care_team.css .band-g*), and a
  // text colour readable on each (contrast ratios in static/css/cartmonitor.css).
  const GRADE_COLOURS = ["#8ce99a", "#ffc107", "#fd7e14", "#dc3545", "#212529"];
  const GRADE_TEXT = ["#000", "#000", "#000", "#fff", "#fff"];
  const NOT_GRADED = "#f1f3f5";
  const BAND_HEIGHT = 14;
  const BAND_GAP = 3;
  const NOW_BOX = 18; // the grade-now box at the end of each band
  const DIGIT_MIN_WIDTH = 12; // a segment this wide or wider shows its grade
  const NARROW = 420; // px of chart width below which ticks are smaller and fewer

  function dayLabel(value) {
    if (!Number.isInteger(value)) {
      return "";
    }
    return value >= 0 ? "D+" + value : "D" + value;
  }

  function bandTop(area, count, index) {
    return area.top - (count - index) * (BAND_HEIGHT + BAND_GAP) - 4;
  }

  function digit(ctx, grade, x, y) {
    ctx.fillStyle = GRADE_TEXT[grade];
    ctx.fillText(String(grade), x, y);
  }

  const gradeBands = {
    id: "gradeBands",
    afterDraw(chart, _args, options) {
      const bands = options.bands || [];
      const area = chart.chartArea;
      const x = chart.scales.x;
      const ctx = chart.ctx;
      ctx.save();
      ctx.textBaseline = "middle";
      bands.forEach(function (band, index) {
        const top = bandTop(area, bands.length, index);
        const middle = top + BAND_HEIGHT / 2;
        ctx.font = "11px system-ui, sans-serif";
        ctx.fillStyle = "#495057";
        ctx.textAlign = "right";
        ctx.fillText(band.label, area.left - 4, middle);
        ctx.fillStyle = NOT_GRADED;
        ctx.fillRect(area.left, top, area.right - area.left, BAND_HEIGHT);
        ctx.font = "bold 10px system-ui, sans-serif";
        ctx.textAlign = "center";
        band.segments.forEach(function (segment) {
          const left = Math.max(x.getPixelForValue(segment[0]), area.left);
          // At least 2 px: a grade that began a moment ago still shows where it began.
          const right = Math.min(Math.max(x.getPixelForValue(segment[1]), left + 2), area.right);
          if (right > left) {
            ctx.fillStyle = GRADE_COLOURS[segment[2]];
            ctx.fillRect(left, top, right - left, BAND_HEIGHT);
            if (right - left >= DIGIT_MIN_WIDTH) {
              digit(ctx, segment[2], (left + right) / 2, middle + 0.5);
            }
          }
        });
        if (band.current !== null && band.current !== undefined) {
          const left = area.right + 3;
          ctx.fillStyle = GRADE_COLOURS[band.current];
          ctx.fillRect(left, top, NOW_BOX, BAND_HEIGHT);
          ctx.strokeStyle = "#495057";
          ctx.lineWidth = 1;
          ctx.strokeRect(left + 0.5, top + 0.5, NOW_BOX - 1, BAND_HEIGHT - 1);
          digit(ctx, band.current, left + NOW_BOX / 2, middle + 0.5);
        }
      });
      if (options.now !== null && options.now !== undefined && bands.length) {
        const at = x.getPixelForValue(options.now);
        if (at >= area.left && at <= area.right) {
          const top = bandTop(area, bands.length, 0);
          ctx.strokeStyle = "#343a40";
          ctx.lineWidth = 1;
          ctx.setLineDash([3, 3]);
          ctx.beginPath();
          ctx.moveTo(at, top - 2);
          ctx.lineTo(at, area.bottom);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.font = "10px system-ui, sans-serif";
          ctx.fillStyle = "#343a40";
          ctx.textBaseline = "bottom";
          ctx.textAlign = at > area.right - 20 ? "right" : "center";
          ctx.fillText(options.nowLabel, at, top - 2);
        }
      }
      ctx.restore();
    },
  };

  function axis(spec, position, secondary) {
    const scale = {
      type: spec.type || "linear",
      position: position,
      title: { display: Boolean(spec.title), text: spec.title },
      grid: { drawOnChartArea: !secondary },
      ticks: { font: tickFont },
    };
    ["min", "max", "suggestedMin", "suggestedMax", "beginAtZero"].forEach(function (key) {
      if (spec[key] !== undefined) {
        scale[key] = spec[key];
      }
    });
    if (spec.labels) {
      // Levels as two short lines each (an array is a multi-line tick in Chart.js).
      scale.ticks = {
        stepSize: 1,
        includeBounds: false, // levels only, not the axis ends
        font: tickFont,
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

  function tickFont(context) {
    return { size: context.chart.width < NARROW ? 10 : 12 };
  }

  function config(spec, data, words) {
    const range = data.x;
    const scales = {
      x: {
        type: "linear",
        min: range.min,
        max: range.max,
        ticks: {
          stepSize: 1,
          callback: dayLabel,
          maxRotation: 0,
          autoSkip: true,
          autoSkipPadding: 8,
          font: tickFont,
        },
        title: { display: true, text: words.xTitle },
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
        layout: {
          padding: {
            top: data.bands.length * (BAND_HEIGHT + BAND_GAP) + 16,
            // Room for the grade-now boxes where no right-hand axis makes it.
            right: spec.axes.y2 ? 0 : NOW_BOX + 6,
          },
        },
        interaction: { mode: "nearest", axis: "x", intersect: false },
        scales: scales,
        plugins: {
          gradeBands: { bands: data.bands, now: data.now, nowLabel: words.now },
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

  // The series do not move with the clock; the page says where now is (monitoring/
  // course_page.py CoursePage.now_position, bands).
  function placeNow(data, now) {
    if (now !== null) {
      data.x.max = Math.max(data.x.max, Math.ceil(now));
    }
    const end = now !== null ? now : data.x.max;
    data.bands.forEach(function (band) {
      const last = band.segments[band.segments.length - 1];
      if (band.current !== null && last !== undefined) {
        last[1] = Math.max(last[1], end);
      }
    });
    data.now = now;
    return data;
  }

  function drawAll(root, data) {
    const words = { xTitle: root.dataset.xTitle || "", now: root.dataset.nowLabel || "" };
    const now = root.dataset.now === undefined ? null : Number(root.dataset.now);
    placeNow(data, now);
    data.charts.forEach(function (spec) {
      const canvas = document.getElementById(spec.id);
      if (canvas !== null) {
        new Chart(canvas, config(spec, data, words));
      }
    });
    // Printing changes the page width (print CSS makes every chart full width): redraw.
    window.addEventListener("beforeprint", resizeAll);
    window.addEventListener("afterprint", resizeAll);
  }

  function failed() {
    const message = document.getElementById("charts-failed");
    if (message !== null) {
      message.hidden = false;
    }
  }

  function draw() {
    const root = document.getElementById("course-charts");
    if (root === null || typeof Chart === "undefined") {
      return;
    }
    fetch(root.dataset.chartsUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        // A session that has ended is sent to the login page: HTML, not the charts.
        const type = response.headers.get("Content-Type") || "";
        if (!response.ok || type.indexOf("application/json") !== 0) {
          throw new Error("charts: " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        drawAll(root, data);
      })
      .catch(failed);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
