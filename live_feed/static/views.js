// Renderers for each channel. Every string from events is attacker-controlled: it only
// ever reaches the page through textContent / createTextNode, never innerHTML.

import { DASH, byId, clockTime, duration, el, list, num, pct, setText } from "./dom.js";

const ACTIVITY_ROWS = 50;

// Published Core Web Vitals thresholds: [good up to, needs improvement up to].
export const THRESHOLDS = {
  LCP: [2500, 4000],
  INP: [200, 500],
  CLS: [0.1, 0.25],
  FCP: [1800, 3000],
  TTFB: [800, 1800],
};

function replaceChildren(parent, children) {
  parent.replaceChildren(...children);
}

// A ranked list with a proportional bar behind each row.
export function renderBars(id, rows, labelKey, valueKey, emptyText) {
  const root = byId(id);
  const max = Math.max(1, ...rows.map((r) => Number(r[valueKey]) || 0));
  const items = rows.slice(0, 8).map((row) => {
    const li = el("li");
    const fill = el("span", "fill");
    fill.style.width = `${((Number(row[valueKey]) || 0) / max) * 100}%`;
    li.append(fill, el("span", "label", row[labelKey]), el("span", "value", num(row[valueKey])));
    return li;
  });
  replaceChildren(root, items.length ? items : [el("li", "empty", emptyText)]);
}

let chart = null;

function renderChart(points) {
  const root = byId("vpm-chart");
  const xs = points.map((p) => p[0] / 1000);
  const ys = points.map((p) => p[1]);
  if (typeof uPlot === "undefined") return;
  if (chart === null) {
    const opts = {
      width: root.clientWidth || 600,
      height: root.clientHeight || 200,
      legend: { show: false },
      padding: [8, 18, 0, 0],
      cursor: { y: false },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max * 1.15)] } },
      axes: [
        { stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#eef0f3" } },
        { stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#eef0f3" }, size: 44 },
      ],
      series: [
        {},
        { label: "views", stroke: "#2f6fde", width: 2, fill: "rgba(47,111,222,0.12)", points: { show: false } },
      ],
    };
    chart = new uPlot(opts, [xs, ys], root);
    new ResizeObserver(() => chart.setSize({ width: root.clientWidth, height: root.clientHeight }))
      .observe(root);
  } else {
    chart.setData([xs, ys]);
  }
}

export function renderTraffic(data) {
  setText("active-visitors", num(data.active_visitors));
  const last5 = data.last_5m || {};
  const today = data.today || {};
  setText("v5-views", num(last5.views));
  setText("v5-visitors", num(last5.visitors));
  setText("today-views", num(today.views));
  setText("today-visitors", num(today.visitors));
  setText("today-sessions", num(today.sessions));
  setText("today-bounce", pct(today.bounce_rate));
  renderChart(list(data.views_per_minute).filter((p) => Array.isArray(p) && p.length >= 2));
  renderBars("top-pages", list(data.top_pages), "url", "views", "No page views yet");
  renderBars("referrers", list(data.referrers), "host", "sessions", "No referrers yet");
  renderDevices(data.devices || {});
}

function renderDevices(devices) {
  const kinds = ["desktop", "mobile", "tablet"];
  const total = kinds.reduce((sum, k) => sum + (Number(devices[k]) || 0), 0);
  const bar = el("div", "split");
  const legend = el("div", "legend");
  for (const kind of kinds) {
    const share = total ? (Number(devices[kind]) || 0) / total : 0;
    const seg = el("span", `seg dev-${kind}`);
    seg.style.width = `${share * 100}%`;
    bar.append(seg);
    const key = el("span", "key");
    key.append(el("span", `swatch dev-${kind}`), document.createTextNode(`${kind} ${pct(share)}`));
    legend.append(key);
  }
  replaceChildren(byId("devices"), [bar, legend]);
}

export function renderPipeline(data) {
  setText("pipeline-valid", num(data.valid));
  setText("pipeline-dlq", num(data.dead_lettered));
  const rate = data.events_per_s;
  setText("pipeline-rate", typeof rate === "number" ? rate.toFixed(rate < 10 ? 1 : 0) : DASH);
  const reasons = Object.entries(data.reasons || {}).sort((a, b) => b[1] - a[1]);
  replaceChildren(
    byId("pipeline-reasons"),
    reasons.map(([reason, n]) => el("li", "chip", `${reason} ${num(n)}`)),
  );
}

export function rating(metric, value) {
  const limits = THRESHOLDS[metric];
  if (!limits || typeof value !== "number") return "none";
  if (value <= limits[0]) return "good";
  return value <= limits[1] ? "ni" : "poor";
}

function vitalValue(metric, value) {
  if (typeof value !== "number") return DASH;
  return metric === "CLS" ? value.toFixed(2) : duration(value);
}

export function renderVitals(data) {
  const site = data.site || {};
  const tiles = Object.keys(THRESHOLDS).map((metric) => {
    const m = site[metric] || {};
    const tile = el("div", `vital rating-${rating(metric, m.p75)}`);
    tile.dataset.metric = metric;
    const head = el("div", "vital-head");
    head.append(el("span", "vital-name", metric), el("span", "muted", `n ${num(m.n)}`));
    const bar = el("div", "split");
    for (const part of ["good", "ni", "poor"]) {
      const seg = el("span", `seg share-${part}`);
      seg.style.width = `${(Number(m[part]) || 0) * 100}%`;
      seg.title = `${part === "ni" ? "needs improvement" : part} ${pct(m[part])}`;
      bar.append(seg);
    }
    tile.append(head, el("div", "vital-value", vitalValue(metric, m.p75)), bar);
    return tile;
  });
  replaceChildren(byId("vitals"), tiles);
}

export function renderForms(data) {
  const rows = list(data.forms).map((form) => {
    const tr = el("tr");
    const completion = el("td");
    const meter = el("span", "meter");
    const fill = el("span", "fill");
    fill.style.width = `${Math.min(1, Math.max(0, Number(form.completion_rate) || 0)) * 100}%`;
    meter.append(fill);
    completion.append(meter, el("span", "meter-label", pct(form.completion_rate)));
    tr.append(
      el("td", "mono", form.form_id),
      el("td", "n", num(form.starts)),
      el("td", "n", num(form.submits)),
      completion,
      el("td", "n", duration(form.median_ms)),
      el("td", "mono", form.dropoff_field ?? DASH),
    );
    return tr;
  });
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", "empty", "No form activity yet");
    td.colSpan = 6;
    tr.append(td);
    rows.push(tr);
  }
  replaceChildren(byId("forms"), rows);
}

// Activity snapshots hold recent events, newest last; rows we already show are kept.
const shown = new Map();

function eventKey(e) {
  return `${e.ts}|${e.visitor}|${e.type}|${e.url}`;
}

export function renderActivity(data, replace) {
  if (replace) shown.clear();
  for (const event of list(data.events)) {
    if (event && typeof event === "object" && !shown.has(eventKey(event))) {
      shown.set(eventKey(event), event);
    }
  }
  const newestFirst = [...shown.values()].sort((a, b) => (b.ts || 0) - (a.ts || 0));
  for (const old of newestFirst.slice(ACTIVITY_ROWS)) shown.delete(eventKey(old));
  const rows = newestFirst.slice(0, ACTIVITY_ROWS).map((e) => {
    const li = el("li", "row");
    const what = el("span", "what");
    what.append(el("span", "url", e.url));
    if (e.title) what.append(el("span", "title", e.title));
    li.append(
      el("span", "time", clockTime(e.ts)),
      el("span", `type type-${String(e.type).replace(/[^a-z_]/g, "")}`, e.type),
      what,
      el("span", "device", e.device),
      el("span", "visitor mono", e.visitor),
    );
    return li;
  });
  replaceChildren(byId("activity"), rows.length ? rows : [el("li", "empty", "Waiting for visitors…")]);
}

export function renderLastUpdate(ts) {
  setText("last-update", `updated ${clockTime(ts)}`);
}
