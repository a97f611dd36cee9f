/* The quality page's charts (Chart.js 4, vendored): minutes from flag to acknowledgement for
 * critical and urgent flags (median and 90th percentile per ISO week), and escalations by tier
 * per week (stacked bars). The tables under each chart carry the same numbers for screen
 * readers and print.
 *
 * The data come from monitoring/quality.py (Report.chart_data) in #quality-charts[data-charts]:
 * the Content-Security-Policy allows no inline script. The words of the axes and legends are in
 * its data-median, data-p90, data-minutes and data-escalations, translated by the template. */
(function () {
  "use strict";

  const TIER_COLOURS = ["#74c0fc", "#1c7ed6", "#f08c00", "#c92a2a"];

  function legend() {
    return { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } };
  }

  function ackChart(canvas, data, words) {
    return new Chart(canvas, {
      type: "line",
      data: {
        labels: data.labels,
        datasets: [
          { label: words.median, data: data.median, borderColor: "#1c7ed6", backgroundColor: "#1c7ed6" },
          {
            label: words.p90,
            data: data.p90,
            borderColor: "#c92a2a",
            backgroundColor: "#c92a2a",
            borderDash: [6, 4],
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        spanGaps: false, // a week without acknowledged flags is a gap, not a guess
        scales: {
          y: { beginAtZero: true, title: { display: true, text: words.minutes } },
          x: { ticks: { maxRotation: 0, autoSkip: true } },
        },
        plugins: { legend: legend() },
      },
    });
  }

  function escalationChart(canvas, data, words) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (spec, index) {
          const colour = TIER_COLOURS[index % TIER_COLOURS.length];
          return { label: spec.label, data: spec.data, backgroundColor: colour, borderColor: colour };
        }),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { stacked: true, ticks: { maxRotation: 0, autoSkip: true } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: words.escalations } },
        },
        plugins: { legend: legend() },
      },
    });
  }

  function draw() {
    const root = document.getElementById("quality-charts");
    if (root === null || typeof Chart === "undefined") {
      return;
    }
    const data = JSON.parse(root.dataset.charts);
    const ack = document.getElementById("chart-ack");
    const escalations = document.getElementById("chart-escalations");
    if (ack !== null) {
      ackChart(ack, data.ack, root.dataset);
    }
    if (escalations !== null) {
      escalationChart(escalations, data.escalations, root.dataset);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
