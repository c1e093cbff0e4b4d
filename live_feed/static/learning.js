// Learning views: engagement scores and model quality, recommendations, visitor segments.

import { DASH, byId, el, fixed, isNum, list, num, obj, pct, setText } from "./dom.js";

const HISTOGRAM_BINS = 10;
const SESSION_ROWS = 6;
const CENTROID_FEATURES = 6;

function renderHistogram(counts) {
  const bins = Array.from({ length: HISTOGRAM_BINS }, (_, i) => (isNum(counts[i]) ? counts[i] : 0));
  const max = Math.max(1, ...bins);
  const cols = bins.map((n, i) => {
    const col = el("div", "hist-col");
    col.dataset.bin = String(i);
    const bar = el("span", "hist-bar");
    bar.style.height = `${(n / max) * 100}%`;
    col.title = `score ${i * 10}–${i * 10 + 10}: ${num(n)} sessions`;
    col.append(el("span", "hist-n", n ? num(n) : ""), bar, el("span", "hist-label", String(i * 10)));
    return col;
  });
  byId("score-histogram").replaceChildren(...cols);
}

let aucChart = null;

function renderAucChart(points, baseline) {
  const root = byId("auc-chart");
  const rows = points.filter((p) => Array.isArray(p) && isNum(p[0]) && isNum(p[1]));
  const xs = rows.map((p) => p[0] / 1000);
  const data = [xs, rows.map((p) => p[1]), xs.map(() => (isNum(baseline) ? baseline : null))];
  byId("auc-empty").hidden = rows.length > 0;
  if (typeof uPlot === "undefined") return;
  if (aucChart === null) {
    const axis = { stroke: "#5b6472", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#eef0f3" } };
    const opts = {
      width: root.clientWidth || 400,
      height: root.clientHeight || 150,
      legend: { show: false },
      padding: [8, 12, 0, 0],
      cursor: { y: false },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => [Math.min(0.5, min ?? 0.5), Math.max(1, max ?? 1)] },
      },
      axes: [axis, { ...axis, size: 50, values: (u, ticks) => ticks.map((t) => t.toFixed(2)) }],
      series: [
        {},
        {
          label: "model AUC",
          stroke: "#0c9d61",
          width: 2,
          // Dots only while there are too few points to read as a line.
          points: { show: (u, si, i0, i1) => i1 - i0 < 2 },
        },
        { label: "baseline AUC", stroke: "#9aa3af", width: 1, dash: [4, 4], points: { show: false } },
      ],
    };
    aucChart = new uPlot(opts, data, root);
    new ResizeObserver(() => aucChart.setSize({ width: root.clientWidth, height: root.clientHeight }))
      .observe(root);
  } else {
    aucChart.setData(data);
  }
}

function signed(delta, digits) {
  if (!isNum(delta)) return "";
  return `${delta >= 0 ? "+" : "−"}${Math.abs(delta).toFixed(digits)} vs baseline`;
}

export function renderEngagement(data) {
  const d = obj(data);
  const q = obj(d.quality);
  renderHistogram(list(d.score_histogram));
  setText("auc-model", fixed(q.auc, 3));
  setText("auc-baseline", fixed(q.baseline_auc, 3));
  setText("auc-lift", isNum(q.auc) && isNum(q.baseline_auc) ? signed(q.auc - q.baseline_auc, 3) : "");
  setText("logloss-model", fixed(q.logloss, 3));
  setText("logloss-baseline", fixed(q.baseline_logloss, 3));
  setText("quality-n", num(q.n));
  renderAucChart(list(d.quality_over_time), q.baseline_auc);
  // Before any session is labelled the model has learned nothing: a converted session
  // reads 100 % and the rest a prior, so the column says so instead of a number.
  const labelled = isNum(q.n) && q.n > 0 ? q.n : 0;
  byId("p-convert-note").hidden = labelled > 0;
  setText("p-convert-note", `P(convert): not learned yet: ${num(labelled)} labelled sessions`);
  const sessions = list(d.active_sessions).map(obj).slice(0, SESSION_ROWS);
  const rows = sessions.map((s) => {
    const tr = el("tr");
    const score = el("td");
    const meter = el("span", "meter");
    const fill = el("span", "fill");
    fill.style.width = `${Math.min(100, Math.max(0, Number(s.score) || 0))}%`;
    meter.append(fill);
    score.append(meter, el("span", "meter-label", fixed(s.score, 0)));
    const p = labelled > 0 ? pct(s.p_convert) : "not learned yet";
    tr.append(el("td", "mono", s.session ?? DASH), score, el("td", "n p-convert", p));
    return tr;
  });
  if (!rows.length) {
    const td = el("td", "empty", "No active sessions");
    td.colSpan = 3;
    const tr = el("tr");
    tr.append(td);
    rows.push(tr);
  }
  byId("active-sessions").replaceChildren(...rows);
}

export function renderRecommendations(data) {
  const d = obj(data);
  setText("rec-hit", pct(d.hit_rate_at_5));
  setText("rec-baseline", pct(d.baseline_hit_rate_at_5));
  setText("rec-n", num(d.n));
  setText("rec-items", num(d.items));
  const items = list(d.top_items).slice(0, 8).map((item) => {
    const entry = typeof item === "string" ? { item } : obj(item);
    const li = el("li");
    li.append(el("span", "label", entry.item ?? DASH));
    li.append(el("span", "value muted", isNum(entry.score) ? entry.score.toFixed(2) : ""));
    if (entry.reason) li.title = String(entry.reason);
    return li;
  });
  byId("rec-top").replaceChildren(...(items.length ? items : [el("li", "empty", "No items yet")]));
}

function centroidRows(centroid) {
  const features = Object.entries(obj(centroid)).filter(([, v]) => isNum(v));
  features.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const top = features.slice(0, CENTROID_FEATURES);
  const max = Math.max(1e-9, ...top.map(([, v]) => Math.abs(v)));
  return top.map(([name, value]) => {
    const li = el("li");
    const fill = el("span", "fill");
    fill.style.width = `${(Math.abs(value) / max) * 100}%`;
    li.append(fill, el("span", "label", name), el("span", "value", value.toFixed(2)));
    return li;
  });
}

export function renderSegments(data) {
  const segments = list(obj(data).segments).map(obj);
  const cards = segments.map((s) => {
    const card = el("div", "segment");
    card.dataset.segment = String(s.id ?? "");
    const head = el("div", "segment-head");
    head.append(el("span", "segment-label", s.label ?? DASH), el("span", "muted", `${num(s.sessions)} sessions`));
    const features = el("ol", "bars features");
    features.append(...centroidRows(s.centroid));
    card.append(head, features);
    return card;
  });
  byId("segments").replaceChildren(...(cards.length ? cards : [el("p", "empty", "No segments learned yet")]));
}
