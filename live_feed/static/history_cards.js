// What each tab shows of a past range: per card, its channel, headline numbers, the series
// charted and a table, all read from the summary names of the history contract
// (traffic `views`, forms `<form>.submits`, vitals `LCP.p75`, funnels `<funnel>.<step>`, ...).

import { DASH, duration, el, isNum, list, num, obj, pct } from "./dom.js";
import { THRESHOLDS } from "./views.js";

const TOP_ROWS = 10;
const MAX_STEPS = 100; // a funnel's steps: anything beyond is no step (and no 10^8-row table)

function stepOf(part) {
  return /^\d{1,3}$/.test(part) && Number(part) < MAX_STEPS ? Number(part) : null;
}

const count = (label, key) => ({ label, key, value: (t) => (isNum(t[key]) ? t[key] : 0), format: num });

function sumOf(t, test) {
  return Object.entries(t).reduce((s, [k, v]) => s + (test(k) && isNum(v) ? v : 0), 0);
}

const summed = (label, test) => ({ label, value: (t) => sumOf(t, test), format: num });

const ratio = (label, top, bottom) => ({
  label,
  value: (t) => (isNum(t[bottom]) && t[bottom] > 0 && isNum(t[top]) ? t[top] / t[bottom] : null),
  format: pct,
});

// Names as `<group>.<part>`: the group may hold dots (a url, a form id), the part does not.
function split(name) {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? [name.slice(0, dot), name.slice(dot + 1)] : [name, ""];
}

function table(headings, rows, emptyText) {
  const wrap = el("div", "table-wrap");
  const tableEl = el("table", "history-table");
  const head = el("tr");
  headings.forEach((h, i) => head.append(el("th", i ? "n" : "", h)));
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const cells of rows) {
    const tr = el("tr");
    cells.forEach((c, i) => tr.append(el("td", i ? "n" : "mono", c)));
    tbody.append(tr);
  }
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", "empty", emptyText);
    td.colSpan = headings.length;
    tr.append(td);
    tbody.append(tr);
  }
  tableEl.append(thead, tbody);
  wrap.append(tableEl);
  return wrap;
}

// The busiest `<prefix><name>` counts, e.g. `pages./events` or `clicks./events`.
function topOf(total, prefix, headings, emptyText) {
  const rows = Object.entries(obj(total))
    .filter(([k, v]) => k.startsWith(prefix) && isNum(v))
    .sort((a, b) => b[1] - a[1])
    .slice(0, TOP_ROWS)
    .map(([k, v]) => [k.slice(prefix.length), num(v)]);
  return [table(headings, rows, emptyText)];
}

function formsTable(body) {
  const forms = new Map();
  for (const [name, value] of Object.entries(obj(body.total))) {
    const [form, what] = split(name);
    if (!["starts", "submits", "abandons"].includes(what) || !isNum(value)) continue;
    if (!forms.has(form)) forms.set(form, { starts: 0, submits: 0, abandons: 0 });
    forms.get(form)[what] = value;
  }
  const rows = [...forms.entries()]
    .sort((a, b) => b[1].starts - a[1].starts)
    .map(([form, f]) => [form, num(f.starts), num(f.submits), num(f.abandons),
      f.starts > 0 ? pct(f.submits / f.starts) : DASH]);
  return [table(["Form", "Starts", "Submits", "Abandons", "Completion"], rows, "No form activity")];
}

function vitalValue(metric, value) {
  if (!isNum(value)) return DASH;
  return metric === "CLS" ? value.toFixed(2) : duration(value);
}

function vitalsTable(body) {
  const t = obj(body.total);
  const rows = Object.keys(THRESHOLDS).map((m) => {
    const rated = ["good", "needs", "poor"].map((r) => (isNum(t[`${m}.${r}`]) ? t[`${m}.${r}`] : 0));
    const all = rated[0] + rated[1] + rated[2];
    return [m, vitalValue(m, t[`${m}.p50`]), vitalValue(m, t[`${m}.p75`]),
      vitalValue(m, t[`${m}.p95`]), all ? pct(rated[0] / all) : DASH, num(t[`${m}.n`])];
  });
  return [table(["Metric", "p50", "p75", "p95", "Good", "n"], rows, "No vitals")];
}

// Funnel step names from GET /api/funnels (the worker's definitions), asked once.
let stepNames = null;

export function funnelSteps() {
  if (stepNames === null) {
    stepNames = fetch("/api/funnels", { credentials: "same-origin", cache: "no-store" })
      .then((r) => (r.ok ? r.json() : {}))
      .then((body) => new Map(list(obj(body).funnels).map(obj)
        .map((f) => [String(f.name), list(f.steps).map((s) => String(obj(s).name ?? ""))])))
      .catch(() => new Map());
  }
  return stepNames;
}

function funnelsTable(body, names) {
  const funnels = new Map();
  for (const [name, value] of Object.entries(obj(body.total))) {
    const [funnel, part] = split(name);
    const step = stepOf(part);
    if (step === null || !isNum(value)) continue;
    if (!funnels.has(funnel)) funnels.set(funnel, []);
    funnels.get(funnel)[step] = value;
  }
  const parts = [];
  for (const [funnel, counts] of funnels) {
    const steps = names?.get(funnel) ?? [];
    const first = isNum(counts[0]) && counts[0] > 0 ? counts[0] : null;
    const rows = [...counts.keys()].map((i) => [steps[i] || `step ${i + 1}`, num(counts[i] ?? 0),
      i === 0 || !isNum(counts[i - 1]) || !counts[i - 1] ? DASH : pct((counts[i] ?? 0) / counts[i - 1]),
      first ? pct((counts[i] ?? 0) / first) : DASH]);
    parts.push(el("h2", "sub-head", funnel), table(["Step", "Sessions", "From previous", "Overall"], rows, ""));
  }
  return parts.length ? parts : [el("p", "empty", "No funnel sessions")];
}

// Per funnel: sessions that entered it and the share that reached its last step.
function funnelHeadlines(body) {
  const last = new Map();
  for (const name of Object.keys(obj(body.total))) {
    const [funnel, part] = split(name);
    const step = stepOf(part);
    if (step !== null) last.set(funnel, Math.max(last.get(funnel) ?? 0, step));
  }
  return [...last].flatMap(([f, n]) => [count(`${f} entered`, `${f}.0`),
    ratio(`${f} completed`, `${f}.${n}`, `${f}.0`)]);
}

// Experiments: `<experiment>.<variant>.units` and `.conversions`, the key and the variant as
// assignment allows them (stream/experiments/assignment.py: no dots); a unit is an exposed
// session, counted in the minute it was first exposed. Any other name is no experiment's.
const EXP_NAME = /^([a-z0-9][a-z0-9_-]{0,63})\.([A-Za-z0-9][A-Za-z0-9_-]{0,63})\.(units|conversions)$/;

const isUnits = (k) => EXP_NAME.exec(k)?.[3] === "units";
const isConversions = (k) => EXP_NAME.exec(k)?.[3] === "conversions";

function experimentsOf(total) {
  const found = new Map();
  for (const [name, value] of Object.entries(obj(total))) {
    const parts = EXP_NAME.exec(name);
    if (parts === null || !isNum(value)) continue;
    const [, key, variant, what] = parts;
    if (!found.has(key)) found.set(key, new Map());
    const variants = found.get(key);
    if (!variants.has(variant)) variants.set(variant, { units: 0, conversions: 0 });
    variants.get(variant)[what] = value;
  }
  return found;
}

function experimentsTable(body) {
  const parts = [];
  for (const [key, variants] of [...experimentsOf(body.total)].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const rows = [...variants].map(([name, v]) => [name, num(v.units), num(v.conversions),
      v.units > 0 ? pct(v.conversions / v.units) : DASH]);
    parts.push(el("h2", "sub-head", key), table(["Variant", "Units", "Conversions", "Rate"], rows, ""));
  }
  return parts.length ? parts : [el("p", "empty", "No experiment exposures")];
}

const headlinesOf = (...specs) => () => specs;

export const CARDS = {
  live: [
    { id: "traffic", channel: "traffic", title: "Traffic", wide: true,
      headlines: headlinesOf(count("views", "views"), count("visitors", "visitors"),
        count("sessions", "sessions"), ratio("bounce rate", "bounces", "sessions_started")),
      series: [["views", "views"], ["visitors", "visitors"]],
      table: (b) => topOf(b.total, "pages.", ["Page", "Views"], "No page views") },
    { id: "forms", channel: "forms", title: "Forms",
      headlines: headlinesOf(summed("starts", (k) => k.endsWith(".starts")),
        summed("submits", (k) => k.endsWith(".submits")),
        summed("abandons", (k) => k.endsWith(".abandons"))),
      table: formsTable },
    { id: "vitals", channel: "vitals", title: "Core Web Vitals",
      headlines: headlinesOf(...["LCP", "INP", "CLS"].map((m) => ({ label: `${m} p75`, key: `${m}.p75`,
        value: (t) => (isNum(t[`${m}.p75`]) ? t[`${m}.p75`] : null), format: (v) => vitalValue(m, v) }))),
      series: [["LCP.p75", "LCP p75", null]],
      table: vitalsTable },
    { id: "pipeline", channel: "pipeline", title: "Pipeline",
      headlines: headlinesOf(count("accepted", "accepted"), summed("dead-lettered", (k) => k.startsWith("dead."))),
      series: [["accepted", "accepted"]],
      table: (b) => topOf(b.total, "dead.", ["Dead-letter reason", "Events"], "Nothing dead-lettered") },
  ],
  insights: [
    { id: "funnels", channel: "funnels", title: "Funnels", headlines: funnelHeadlines, table: funnelsTable },
    { id: "journeys", channel: "journeys", title: "Journeys",
      headlines: headlinesOf(count("entries", "entries"), count("exits", "exits"),
        count("transitions", "transitions")),
      series: [["entries", "entries"], ["transitions", "transitions"]] },
    { id: "heatmaps", channel: "heatmaps", title: "Clicks and scrolls",
      headlines: headlinesOf(count("clicks", "clicks"), count("scrolls", "scrolls")),
      series: [["clicks", "clicks"]],
      table: (b) => topOf(b.total, "clicks.", ["Page", "Clicks"], "No clicks") },
  ],
  learning: [
    { id: "learning", channel: "learning", title: "Model quality", wide: true,
      headlines: headlinesOf(ratio("hit rate", "hits", "shown"),
        ratio("baseline hit rate", "baseline_hits", "shown"), count("recommendations checked", "shown"),
        count("labelled sessions", "labelled"), ratio("conversion rate", "conversions", "labelled")),
      series: [["hits", "hits"], ["shown", "checked"]] },
  ],
  experiments: [
    { id: "experiments", channel: "experiments", title: "Experiments", wide: true,
      headlines: headlinesOf(summed("exposed units", isUnits), summed("conversions", isConversions),
        { label: "conversion rate", format: pct, value: (t) => {
          const units = sumOf(t, isUnits);
          return units > 0 ? sumOf(t, isConversions) / units : null;
        } }),
      table: experimentsTable },
  ],
  dojo: [
    { id: "dojo-registrations", channel: "dojo", title: "Registrations", wide: true,
      headlines: headlinesOf(count("registrations", "registrations"), count("places booked", "tickets"),
        count("places given back", "cancelled")),
      series: [["tickets", "places booked"], ["cancelled", "given back"]],
      table: (b) => topOf(b.total, "tickets.", ["Event", "Places booked"], "No registrations") },
    { id: "dojo-attendance", channel: "dojo", title: "Attendance",
      headlines: headlinesOf(count("arrived (booked)", "arrived"), count("walk-ins", "walk_ins")),
      series: [["arrived", "arrived"], ["walk_ins", "walk-ins"]],
      table: (b) => topOf(b.total, "attended.", ["Event", "Heads"], "Nobody checked in") },
    { id: "dojo-resources", channel: "dojo", title: "Resources",
      headlines: headlinesOf(count("views", "views"), count("downloads", "downloads"),
        ratio("download rate", "downloads", "views")),
      series: [["views", "views"], ["downloads", "downloads"]] },
  ],
};

const MAX_MARKERS = 20;
const LAST_DATE_MS = 8.64e15; // beyond this a Date is invalid and toISOString throws

// "Published: <title> rev N at HH:MM" for what went live or off in the range (UTC, as the
// store's days are): which revision was live when a number moved. Text only, never markup.
export function changeMarkers(body, range) {
  const changes = list(body.content_changes).map(obj).filter((c) =>
    isNum(c.at_ms) && Math.abs(c.at_ms) <= LAST_DATE_MS && ["published", "unpublished"].includes(c.action));
  if (!changes.length) return [];
  const oneDay = range.to - range.from <= 86400000;
  const box = el("ul", "content-changes");
  box.setAttribute("aria-label", "Content published or unpublished in this range");
  for (const change of changes.slice(0, MAX_MARKERS)) {
    const at = new Date(change.at_ms).toISOString();
    const when = oneDay ? at.slice(11, 16) : `${at.slice(0, 10)} ${at.slice(11, 16)}`;
    const verb = change.action === "published" ? "Published" : "Unpublished";
    const title = typeof change.title === "string" && change.title ? change.title : String(change.item_id ?? DASH);
    const revision = isNum(change.revision) ? ` rev ${change.revision}` : "";
    box.append(el("li", `change-marker ${change.action}`, `${verb}: ${title}${revision} at ${when}`));
  }
  if (changes.length > MAX_MARKERS) box.append(el("li", "muted", `and ${changes.length - MAX_MARKERS} more`));
  return [box];
}
