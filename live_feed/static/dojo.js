// The Dojo tab: upcoming events with fill and expected turnout, the term's registrations and
// attendance, resources, where registrations come from and how good the forecasts are.

import { DASH, byId, el, isNum, list, num, obj, pct, setText } from "./dom.js";

const dayFmt = new Intl.DateTimeFormat("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });

function when(ms) {
  return isNum(ms) ? dayFmt.format(new Date(ms)) : DASH;
}

function rows(id, cells, width, emptyText) {
  const trs = cells.map((row) => {
    const tr = el("tr");
    row.forEach((cell, i) => {
      if (cell instanceof Node) {
        const td = el("td", i ? "n" : "");
        td.append(cell);
        tr.append(td);
      } else tr.append(el("td", i ? "n" : "", cell));
    });
    return tr;
  });
  if (!trs.length) {
    const tr = el("tr");
    const td = el("td", "empty", emptyText);
    td.colSpan = width;
    tr.append(td);
    trs.push(tr);
  }
  byId(id).replaceChildren(...trs);
}

// "24 of 30 · 80%", with a meter; an event without a capacity shows its tickets only.
function fillCell(event) {
  const box = el("span", "fill-cell");
  if (!isNum(event.capacity)) {
    box.append(`${num(event.net_tickets)} booked`);
    return box;
  }
  const meter = el("span", "meter");
  const fill = el("span", `fill${event.fill >= 0.8 ? " hot" : ""}`);
  fill.style.width = `${Math.min(1, Math.max(0, Number(event.fill) || 0)) * 100}%`;
  meter.append(fill);
  box.append(meter, el("span", "meter-label", `${num(event.net_tickets)} of ${num(event.capacity)} · ${pct(event.fill)}`));
  return box;
}

function error(score, unit) {
  const s = obj(score);
  if (!isNum(s.mae)) return "not learned yet: no past event";
  const f = unit === "%" ? (v) => `${(v * 100).toFixed(1)} points` : (v) => `${v.toFixed(1)} heads`;
  return `${f(s.mae)} off on past events (naive: ${f(s.naive_mae)})`;
}

const REPORTS_EVERY_MS = 60000;
let reportsAt = 0;

// The kept reports (dojo-pulse report): asked for at most once a minute, whatever the pace.
async function renderReports() {
  if (byId("view-dojo").hidden || Date.now() - reportsAt < REPORTS_EVERY_MS) return;
  reportsAt = Date.now();
  let body = {};
  try {
    const response = await fetch("/api/reports", { credentials: "same-origin" });
    if (response.ok) body = await response.json();
  } catch {
    reportsAt = 0; // try again with the next snapshot
  }
  const items = list(obj(body).reports).map(obj).slice(0, 10).map((r) => {
    const li = el("li");
    const link = el("a", "", r.name);
    link.href = `/api/reports/${encodeURIComponent(String(r.name))}`;
    link.setAttribute("download", "");
    li.append(link, ` · ${r.period} · ${new Date(Number(r.written_ms) || 0).toLocaleString("en-GB")}`);
    return li;
  });
  if (!items.length) items.push(el("li", "empty", "No report yet: run dojo-pulse report daily (e.g. from cron)"));
  byId("dojo-reports").replaceChildren(...items);
}

const AREAS = { events: "Events", resources: "Resources", blog: "Blog", info: "Info pages" };
let scoresByArea = {};
let engagementToday = {};

// Today's sessions, engaged share and same-day returns (dojo channel) beside the live score
// distribution per area (engagement channel): whichever arrives redraws both.
function renderEngagementCard() {
  const today = obj(engagementToday);
  setText("dojo-eng-sessions", num(today.sessions));
  setText("dojo-eng-engaged", isNum(today.engaged) ? `${num(today.engaged)} · ${pct(today.engaged_rate)}` : DASH);
  setText("dojo-eng-returning", pct(today.returning_rate));
  const areas = obj(today.by_area);
  rows("dojo-engagement", Object.entries(AREAS).map(([key, label]) => {
    const area = obj(areas[key]);
    const bins = list(scoresByArea[key]);
    return [label, num(area.sessions), pct(area.engaged_rate), bins.length ? bins.map(num).join(" · ") : DASH];
  }), 4, "No sessions yet");
}

export function renderDojoScores(data) {
  scoresByArea = obj(obj(data).score_by_area);
  renderEngagementCard();
}

export function renderDojo(data) {
  renderReports();
  engagementToday = obj(obj(data.engagement).today);
  renderEngagementCard();
  const registrations = obj(data.registrations);
  const attendance = obj(data.attendance);
  const events = list(registrations.events).map(obj);
  const upcoming = events.filter((e) => e.upcoming);
  rows("dojo-upcoming", upcoming.map((e) => [
    e.title ?? e.id, when(e.starts_ms), fillCell(e), pct(e.forecast_fill),
    isNum(e.expected_turnout) ? num(Math.round(e.expected_turnout)) : DASH,
  ]), 5, "No upcoming dojo events");
  const totals = obj(registrations.totals);
  for (const key of ["registrations", "net_tickets", "cancelled", "attended", "no_shows", "walk_ins"]) {
    setText(`dojo-${key.replace("_", "-")}`, num(totals[key]));
  }
  const past = list(attendance.events).map(obj).filter((e) => !e.upcoming);
  rows("dojo-attendance", past.map((e) => [
    e.title ?? e.id, when(e.starts_ms), num(e.net_tickets), num(e.attended), num(e.no_shows), num(e.walk_ins),
    pct(e.show_rate),
  ]), 7, "No attendance yet");
  setText("dojo-forecast-error", error(obj(registrations.forecast), "%"));
  setText("dojo-turnout-error", error(attendance.turnout, "heads"));
  const resources = obj(data.resources);
  const rare = new Set(list(resources.rarely_downloaded));
  rows("dojo-resources", list(resources.resources).map(obj).slice(0, 12).map((r) => [
    `${r.title ?? r.id}${rare.has(r.id) ? " · rarely downloaded" : ""}`, num(r.views), num(r.downloads),
    pct(r.download_rate), isNum(r.trend) ? r.trend.toFixed(1) : DASH,
  ]), 5, "No resource views yet");
  const sources = obj(registrations.sources);
  rows("dojo-sources", ["entry", "referrer", "campaign"].flatMap((kind) =>
    list(sources[kind]).map(obj).slice(0, 5).map((s) => [`${kind}: ${s.name}`, num(s.registrations)])),
  2, "No registrations yet");
  rows("dojo-funnels", list(data.funnels).map(obj).slice(0, 20).map((f) => {
    const steps = list(f.steps).map(obj);
    return [f.title ?? f.id, ...[0, 1, 2, 3].map((i) => {
      const step = obj(steps[i]);
      return i && isNum(step.share) ? `${num(step.sessions)} · ${pct(step.share)}` : num(step.sessions);
    })];
  }), 5, "No visits to an event page yet");
  const notices = list(data.notices).map(obj);
  byId("dojo-notices").replaceChildren(...notices.slice(0, 5).map((n) => el("li", "", n.reason)));
  byId("dojo-notices-card").hidden = notices.length === 0;
}

// Opening the tab lists the reports at once, without waiting for the next dojo snapshot.
document.querySelector('.tabs [data-tab="dojo"]')?.addEventListener("click", () => {
  reportsAt = 0;
  setTimeout(renderReports);
});
