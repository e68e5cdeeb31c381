// bulletin's dashboard: the little JavaScript it has. Pages read without it; this adds a
// confirmation <dialog> for actions and draws the throughput and growth charts (uPlot).
"use strict";

(function () {
  function confirmations() {
    const dialog = document.getElementById("confirm");
    if (!dialog || typeof dialog.showModal !== "function") return; // the confirm page then
    const form = document.getElementById("confirm-form");
    document.getElementById("confirm-no").addEventListener("click", () => dialog.close());
    // Delegated: the live fragments holding the buttons are swapped every few seconds.
    document.addEventListener("submit", (event) => {
      const source = event.target;
      if (!(source instanceof HTMLFormElement) || !source.dataset.confirm) return;
      event.preventDefault();
      const button = source.querySelector("button[data-action]");
      form.action = source.action;
      form.elements.namedItem("run").value = source.elements.namedItem("run").value;
      document.getElementById("confirm-yes").textContent = button ? button.textContent : "Confirm";
      document.getElementById("confirm-question").textContent =
        (button ? button.textContent : "Confirm") + ": are you sure?";
      dialog.showModal();
    });
  }

  function chart() {
    const element = document.getElementById("chart");
    const data = document.getElementById("chart-data");
    if (!element || !data || typeof uPlot === "undefined") return;
    let series = JSON.parse(data.textContent);
    const options = () => ({
      width: Math.max(200, element.clientWidth),
      height: 240,
      series: [{}, { label: "msgs/s", stroke: "#0b5cad", fill: "rgba(11,92,173,0.12)", width: 2 }],
      axes: [{}, { label: "msgs/s" }],
      // From 0: a dip from 20 to 17 msgs/s should look like one, not like a halt.
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      legend: { show: true },
    });
    const arrays = (s) => [s.t, s.per_s];
    let plot = new uPlot(options(), arrays(series), element);
    window.addEventListener("resize", () => plot.setSize({ width: Math.max(200, element.clientWidth), height: 240 }));
    if (element.dataset.live === "yes") {
      setInterval(async () => {
        const answer = await fetch(element.dataset.src, { credentials: "same-origin" });
        if (!answer.ok) return;
        series = await answer.json();
        plot.setData(arrays(series));
      }, 5000);
    }
  }

  // The Audience page: new subscribers and opt-outs per day, from the daily rollups.
  function growthChart() {
    const element = document.getElementById("growth-chart");
    const data = document.getElementById("growth-data");
    if (!element || !data || typeof uPlot === "undefined") return;
    const series = JSON.parse(data.textContent);
    const width = () => Math.max(200, element.clientWidth);
    const plot = new uPlot(
      {
        width: width(),
        height: 240,
        series: [
          {},
          { label: "joined", stroke: "#1a7f37", fill: "rgba(26,127,55,0.12)", width: 2 },
          { label: "opted out", stroke: "#cf222e", width: 2 },
        ],
        axes: [{}, { label: "chats per day" }],
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
        legend: { show: true },
      },
      [series.t, series.subscribed, series.opted_out],
      element,
    );
    window.addEventListener("resize", () => plot.setSize({ width: width(), height: 240 }));
  }

  document.addEventListener("DOMContentLoaded", () => {
    confirmations();
    chart();
    growthChart();
  });
})();
