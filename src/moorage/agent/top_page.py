"""The page of ``moorage top --web`` (:mod:`moorage.agent.top_web`): its HTML and script,
kept as text so that the one-file agent carries them.

The script reads ``/api/history`` once, then ``/api/stats`` every interval; it
draws CPU, memory and disk (percent) with uPlot when ``/static/uplot.min.js``
loaded, otherwise as an SVG polyline chart.
"""

from __future__ import annotations

import html

__all__ = ["PAGE", "SCRIPT", "page"]

CARDS = (
    ("cpu", "CPU"),
    ("memory", "Memory"),
    ("disk", "Disk (fullest)"),
    ("swap", "Swap"),
    ("load", "Load (1 min)"),
    ("rx", "Network in"),
    ("tx", "Network out"),
    ("uptime", "Uptime"),
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>moorage top</title>
<link rel="stylesheet" href="/static/uplot.min.css">
<style>
  body { font: 15px system-ui, sans-serif; margin: 0; color: #1d273b; background: #f6f8fb; }
  header { padding: .8rem 1.2rem; background: #1d273b; color: #fff; }
  header h1 { font-size: 1.1rem; margin: 0; display: inline; }
  header span { opacity: .75; margin-left: .8rem; font-size: .9rem; }
  main { padding: 1rem 1.2rem; max-width: 1100px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
           gap: .7rem; margin-bottom: 1rem; }
  .card { background: #fff; border: 1px solid #dce1e7; border-radius: 6px; padding: .6rem .8rem; }
  .card .label { font-size: .8rem; color: #5f6b7a; }
  .card .value { font-size: 1.5rem; font-variant-numeric: tabular-nums; }
  .warn .value { color: #b45309; } .critical .value { color: #b91c1c; }
  #chart { background: #fff; border: 1px solid #dce1e7; border-radius: 6px; padding: .5rem;
           min-height: 320px; }
  #status { font-size: .85rem; color: #5f6b7a; margin-top: .5rem; }
  svg text { font-size: 11px; fill: #5f6b7a; }
</style>
</head>
<body data-interval-ms="{{interval_ms}}" data-capacity="{{capacity}}">
<header><h1>moorage top</h1><span id="host">{{hostname}}</span></header>
<main>
  <section class="cards" aria-label="Live metrics">
{{cards}}
  </section>
  <h2 style="font-size:1rem">History (CPU, memory, disk %)</h2>
  <div id="chart" role="img" aria-label="CPU, memory and disk percent over time"></div>
  <div id="status" aria-live="polite">Loading…</div>
</main>
<script src="/static/uplot.min.js"></script>
<script src="/top.js"></script>
</body>
</html>
"""

SCRIPT = r"""
"use strict";
const intervalMs = Number(document.body.dataset.intervalMs) || 2000;
const capacity = Number(document.body.dataset.capacity) || 300;
const series = [["cpu_percent", "CPU", "#206bc4"], ["memory_percent", "Memory", "#2fb344"],
                ["disk_percent", "Disk", "#f76707"]];
const data = [[], [], [], []];
let plot = null, last = "";

function pct(v) { return v == null ? "–" : v.toFixed(1) + " %"; }
function rate(v) {
  if (v == null) return "–";
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"]; let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return v.toFixed(i ? 1 : 0) + " " + units[i];
}
function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + " d " : "") + h + " h " + String(m).padStart(2, "0") + " min";
}
function level(id, v, warn, critical) {
  const card = document.getElementById(id);
  card.classList.toggle("critical", v >= critical);
  card.classList.toggle("warn", v >= warn && v < critical);
}
function show(s) {
  document.getElementById("cpu").textContent = pct(s.cpu_percent);
  document.getElementById("memory").textContent = pct(s.memory_percent);
  document.getElementById("disk").textContent = pct(s.disk_percent);
  document.getElementById("swap").textContent = pct(s.swap_percent);
  document.getElementById("load").textContent = s.load1 == null ? "–" : s.load1.toFixed(2);
  document.getElementById("rx").textContent = rate(s.net_rx_bps);
  document.getElementById("tx").textContent = rate(s.net_tx_bps);
  document.getElementById("uptime").textContent = duration(s.uptime_seconds);
  level("card-cpu", s.cpu_percent, 80, 95);
  level("card-memory", s.memory_percent, 90, 101);
  level("card-disk", s.disk_percent, 90, 95);
  document.getElementById("status").textContent =
    "Last sample " + new Date(s.collected_at).toLocaleTimeString() + " · " +
    data[0].length + " in the chart";
}
function add(s) {
  if (s.collected_at === last) return false;
  last = s.collected_at;
  data[0].push(Date.parse(s.collected_at) / 1000);
  series.forEach(([key], i) => data[i + 1].push(s[key] == null ? null : s[key]));
  if (data[0].length > capacity) data.forEach((column) => column.shift());
  return true;
}
function svgChart() {
  const box = document.getElementById("chart"), w = box.clientWidth - 16, h = 300;
  const xs = data[0]; if (xs.length < 2) { box.textContent = ""; return; }
  const x0 = xs[0], span = Math.max(xs[xs.length - 1] - x0, 1);
  const X = (t) => 40 + (t - x0) / span * (w - 50), Y = (v) => 10 + (100 - v) / 100 * (h - 30);
  let svg = `<svg width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg">`;
  for (const v of [0, 50, 100]) {
    svg += `<line x1="40" x2="${w - 10}" y1="${Y(v)}" y2="${Y(v)}" stroke="#dce1e7"/>`;
    svg += `<text x="4" y="${Y(v) + 4}">${v} %</text>`;
  }
  series.forEach(([, label, color], i) => {
    const pts = xs.map((t, j) => data[i + 1][j] == null ? ""
                       : `${X(t).toFixed(1)},${Y(data[i + 1][j]).toFixed(1)}`).filter(Boolean);
    svg += `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.join(" ")}"/>`;
    svg += `<text x="${50 + i * 80}" y="${h - 4}" style="fill:${color}">${label}</text>`;
  });
  box.innerHTML = svg + "</svg>";
}
function draw() {
  if (typeof uPlot === "undefined") { svgChart(); return; }
  if (plot) { plot.setData(data); return; }
  const box = document.getElementById("chart");
  plot = new uPlot({
    width: box.clientWidth - 16, height: 300,
    scales: { y: { range: [0, 100] } },
    series: [{}, ...series.map(([, label, color]) => ({ label, stroke: color, width: 1.5,
                                                        value: (u, v) => pct(v) }))],
    axes: [{}, { values: (u, ticks) => ticks.map((v) => v + " %") }],
  }, data, box);
}
async function refresh() {
  try {
    const answer = await fetch("/api/stats", { cache: "no-store" });
    if (answer.ok) { const s = await answer.json(); if (add(s)) draw(); show(s); }
  } catch (e) {
    document.getElementById("status").textContent = "Cannot reach moorage top: " + e;
  }
}
(async () => {
  try {
    const answer = await fetch("/api/history?limit=" + capacity, { cache: "no-store" });
    if (answer.ok) (await answer.json()).samples.forEach(add);
  } catch (e) { /* the live loop reports it */ }
  draw();
  await refresh();
  setInterval(refresh, intervalMs);
})();
"""


def page(interval_seconds: float, capacity: int, hostname: str) -> str:
    """The page's HTML for a sampler of ``interval_seconds`` keeping ``capacity`` samples
    on machine ``hostname`` (escaped here)."""
    cards = "\n".join(
        f'    <div class="card" id="card-{key}"><div class="label">{label}</div>'
        f'<div class="value" id="{key}">–</div></div>'
        for key, label in CARDS
    )
    return (
        PAGE.replace("{{cards}}", cards)
        .replace("{{hostname}}", html.escape(hostname))
        .replace("{{interval_ms}}", str(int(interval_seconds * 1000)))
        .replace("{{capacity}}", str(capacity))
    )
