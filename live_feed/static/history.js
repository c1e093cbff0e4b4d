// A past range on any tab: each card is one channel's GET /api/history, its headline numbers
// beside the previous period's, a chart of its windows, a table, and a CSV download of the
// same query. While a card loads it says so; when the API refuses, it shows the API's words.

import { DASH, byId, el, isNum, list, num, obj } from "./dom.js";
import { CARDS, changeMarkers, funnelSteps } from "./history_cards.js";
import { historyUrl } from "./range.js";

const charts = new Map(); // card id -> {plot, observer}
const shown = new Map(); // tab -> the range key its cards show (or are loading)

function rangeKey(range) {
  return `${range.from}|${range.to}|${range.interval}`;
}

// Relative change as the admin reads it: "+18 %", "−4 %"; "—" when the previous was 0.
export function changeText(change) {
  if (!isNum(change)) return DASH;
  const rounded = Math.round(change * 100);
  if (rounded === 0) return "±0 %";
  return `${rounded > 0 ? "+" : "−"}${num(Math.abs(rounded))} %`;
}

export function relative(now, before) {
  return isNum(now) && isNum(before) && before !== 0 ? (now - before) / before : null;
}

async function fetchHistory(channel, range) {
  let response;
  try {
    response = await fetch(historyUrl(channel, range), {
      cache: "no-store",
      credentials: "same-origin",
      headers: { accept: "application/json" },
    });
  } catch (err) {
    throw new Error(`the live feed did not answer (${err.message || err})`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok || body === null || typeof body !== "object") {
    const said = obj(body);
    const text = said.error ?? said.detail ?? `HTTP ${response.status} ${response.statusText}`;
    throw new Error(String(text));
  }
  return body;
}

function headline(spec, body, range) {
  const total = obj(body.total);
  const before = obj(obj(body.previous).total);
  const value = spec.value(total);
  const apiChange = spec.key !== undefined ? obj(body.change)[spec.key] : undefined;
  const change = apiChange !== undefined ? apiChange : relative(value, spec.value(before));
  const box = el("div", "headline");
  box.dataset.name = spec.label;
  const change_ = el("dd", `change ${isNum(change) ? (change >= 0 ? "up" : "down") : "none"}`);
  change_.append(el("span", "change-value", changeText(change)), ` vs ${range.versus}`);
  change_.title = `${range.versus}: ${spec.format(spec.value(before))}`;
  box.append(el("dt", "", spec.label), el("dd", "value", spec.format(value)), change_);
  return box;
}

function destroyChart(id) {
  const old = charts.get(id);
  if (old) {
    old.observer.disconnect();
    old.plot.destroy();
    charts.delete(id);
  }
}

const SPAN_MS = { minute: 60000, hour: 3600000, day: 86400000 };

// One line per series, and the previous period's first series dashed, shifted onto this one.
// The API sends only windows that hold data: every other window of the range (up to now) is
// drawn as 0 for a count, or as a gap where a series says null (a p75 of nothing is no 0).
function drawChart(id, root, series, body, range) {
  destroyChart(id);
  if (typeof uPlot === "undefined" || !series.length) return;
  const span = SPAN_MS[body.interval] ?? SPAN_MS[range.interval];
  const from = isNum(body.from) ? body.from : range.from;
  const to = Math.min(isNum(body.to) ? body.to : range.to, Date.now() - (Date.now() % span) + span);
  const previous = obj(body.previous);
  const shift = from - (isNum(previous.from) ? previous.from : from);
  const at = new Map();
  for (let ms = from; ms < to && at.size < 10000; ms += span) {
    at.set(ms, [...series.map(([, , fill]) => (fill === undefined ? 0 : fill)),
      series[0][2] === undefined ? 0 : series[0][2]]);
  }
  const put = (ms, index, value) => {
    if (at.has(ms) && isNum(value)) at.get(ms)[index] = value;
  };
  for (const row of list(body.rows).map(obj)) series.forEach(([key], i) => put(row.start, i, row[key]));
  for (const row of list(previous.rows).map(obj)) {
    if (isNum(row.start)) put(row.start + shift, series.length, row[series[0][0]]);
  }
  const xs = [...at.keys()];
  const data = [xs.map((x) => x / 1000), ...series.map((_, i) => xs.map((x) => at.get(x)[i]))];
  data.push(xs.map((x) => at.get(x)[series.length]));
  const axis = { stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#eef0f3" } };
  const colours = ["#2f6fde", "#8e6ae6", "#0c9d61"];
  const plot = new uPlot(
    {
      width: root.clientWidth || 300,
      height: 160,
      legend: { show: false },
      padding: [8, 12, 0, 0],
      cursor: { y: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"), // the store's days are UTC days
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, (max ?? 1) * 1.15)] } },
      axes: [axis, { ...axis, size: 44 }],
      series: [
        {},
        ...series.map(([, label], i) => ({ label, stroke: colours[i % colours.length], width: 2,
          points: { show: (u, si, i0, i1) => i1 - i0 < 3 } })),
        { label: `${series[0][1]}, previous period`, stroke: "#9aa3af", width: 1, dash: [4, 4],
          points: { show: false } },
      ],
    },
    data,
    root,
  );
  const observer = new ResizeObserver(() => plot.setSize({ width: root.clientWidth, height: 160 }));
  observer.observe(root);
  charts.set(id, { plot, observer });
}

function legend(series, range) {
  const box = el("div", "legend chart-legend");
  const colours = ["sw-views", "sw-second", "sw-third"];
  series.forEach(([, label], i) => {
    const key = el("span", "key");
    key.append(el("span", `swatch ${colours[i % colours.length]}`), label);
    box.append(key);
  });
  const key = el("span", "key");
  key.append(el("span", "swatch sw-baseline"), `${series[0][1]}, ${range.versus}`);
  box.append(key);
  return box;
}

// Every number of the window, whatever the channel carries: nothing the store keeps is hidden.
function allNumbers(body) {
  const total = obj(body.total);
  const before = obj(obj(body.previous).total);
  const details = el("details", "all-numbers");
  details.append(el("summary", "", "All numbers"));
  const wrap = el("div", "table-wrap");
  const table = el("table");
  const head = el("tr");
  for (const name of ["name", "this period", "previous", "change"]) {
    head.append(el("th", name === "name" ? "" : "n", name));
  }
  const rows = Object.keys(total).sort().map((name) => {
    const tr = el("tr");
    tr.append(el("td", "mono", name), el("td", "n", num(total[name])), el("td", "n", num(before[name])),
      el("td", "n", changeText(relative(total[name], before[name]))));
    return tr;
  });
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  tbody.append(...rows);
  table.append(thead, tbody);
  wrap.append(table);
  details.append(wrap);
  return details;
}

function cardShell(spec, range) {
  const card = el("section", `card history-card ${spec.wide ? "wide" : ""}`);
  card.id = `history-${spec.id}`;
  card.dataset.channel = spec.channel;
  const head = el("div", "card-head");
  const title = el("h2", "", spec.title);
  title.append(el("span", "muted", ` · ${range.label}`));
  const csv = el("a", "csv", "CSV");
  csv.href = historyUrl(spec.channel, range, true);
  csv.setAttribute("download", "");
  csv.title = `${spec.title}, every ${range.interval}, as CSV`;
  head.append(title, csv);
  const content = el("div", "history-body");
  card.append(head, content);
  return [card, content];
}

async function fillCard(spec, card, content, range, isCurrent) {
  card.setAttribute("aria-busy", "true");
  content.replaceChildren(el("p", "loading", `Loading ${spec.title.toLowerCase()}…`));
  try {
    const body = await fetchHistory(spec.channel, range);
    const extra = spec.channel === "funnels" ? await funnelSteps() : null;
    if (!isCurrent()) return;
    const heads = el("dl", "headlines");
    heads.append(...spec.headlines(body, extra).map((h) => headline(h, body, range)));
    const chart = el("div", "chart history-chart");
    const parts = [...changeMarkers(body, range), heads];
    const stored = list(body.rows).length > 0;
    const series = stored ? spec.series ?? [] : [];
    if (!stored) parts.push(el("p", "empty", "Nothing stored for this range"));
    if (series.length) parts.push(legend(series, range), chart);
    if (spec.table && stored) parts.push(...spec.table(body, extra));
    parts.push(allNumbers(body));
    content.replaceChildren(...parts);
    if (series.length) drawChart(spec.id, chart, series, body, range);
  } catch (err) {
    if (!isCurrent()) return;
    destroyChart(spec.id);
    content.replaceChildren(el("p", "error history-error", err.message || String(err)));
  } finally {
    if (isCurrent()) card.setAttribute("aria-busy", "false");
  }
}

// Show `tab`'s cards for `range`; they load again only when the range changed.
export function showHistory(tab, range) {
  const root = byId(`history-${tab}`);
  const key = rangeKey(range);
  if (shown.get(tab) === key) return;
  shown.set(tab, key);
  const isCurrent = () => shown.get(tab) === key;
  const cards = (CARDS[tab] ?? []).map((spec) => {
    destroyChart(spec.id);
    const [card, content] = cardShell(spec, range);
    return [spec, card, content];
  });
  root.replaceChildren(...cards.map(([, card]) => card));
  for (const [spec, card, content] of cards) fillCard(spec, card, content, range, isCurrent);
}

// Back to live: forget what was shown, so the next past range loads afresh.
export function forgetHistory() {
  shown.clear();
  for (const id of [...charts.keys()]) destroyChart(id);
}
