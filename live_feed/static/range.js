// The header's time range: "live" (the WebSocket's moving numbers) or a past range read from
// the store. Days are UTC days, as the store keeps them; `to` is exclusive, as the API reads it.

import { byId } from "./dom.js";

export const MINUTE_MS = 60000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const KINDS = {
  live: "Live",
  today: "Today",
  "7d": "7 days",
  "30d": "30 days",
  term: "This term",
  custom: "Custom",
};

const listeners = [];
let current = { kind: "live" };
let term = null; // {start, end} ISO dates from /api/config, once it answered

export function utcMidnight(ms) {
  return ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
}

// "2026-11-30" -> epoch ms of that UTC midnight, or null for anything else.
export function isoDay(text) {
  if (typeof text !== "string" || !/^\d{4}-\d{2}-\d{2}$/.test(text)) return null;
  const ms = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().startsWith(text) ? ms : null;
}

export function dayText(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

// The API's rule of thumb, so a range never asks for more windows than a chart can show.
export function intervalFor(from, to) {
  const span = to - from;
  if (span <= 6 * HOUR_MS) return "minute";
  return span <= 14 * DAY_MS ? "hour" : "day";
}

function spanText(ms) {
  if (ms % DAY_MS === 0) return ms === DAY_MS ? "day" : `${ms / DAY_MS} days`;
  if (ms % HOUR_MS === 0) return ms === HOUR_MS ? "hour" : `${ms / HOUR_MS} hours`;
  return `${Math.round(ms / MINUTE_MS)} minutes`;
}

// {kind, from, to, interval, label, versus} for a past range, null for "live" or a range that
// cannot be built yet (the term before /api/config answered, a custom day left empty).
export function rangeOf(kind, nowMs, options = {}) {
  const today = utcMidnight(nowMs);
  const tomorrow = today + DAY_MS;
  let from = null;
  let to = tomorrow;
  if (kind === "today") from = today;
  else if (kind === "7d") from = today - 6 * DAY_MS;
  else if (kind === "30d") from = today - 29 * DAY_MS;
  else if (kind === "term") {
    const start = isoDay(options.term?.start);
    const end = isoDay(options.term?.end);
    if (start === null || end === null) return null;
    from = start;
    // The term so far: its days to come would only dilute the comparison with the last one.
    to = Math.min(end + DAY_MS, tomorrow);
    if (to <= from) to = end + DAY_MS; // a configured term still to come: the whole of it
  } else if (kind === "custom") {
    from = isoDay(options.from);
    const last = isoDay(options.to);
    if (from === null || last === null) return null;
    to = last + DAY_MS; // the second date input is a day included
  } else {
    return null;
  }
  const span = to - from;
  const versus = kind === "today" ? "yesterday" : `the previous ${spanText(span)}`;
  const label =
    kind === "custom" || kind === "term"
      ? `${KINDS[kind]} · ${dayText(from)} – ${dayText(to - DAY_MS)}`
      : KINDS[kind];
  return { kind, from, to, interval: intervalFor(from, to), label, versus };
}

// The API query of one channel over `range`: JSON with the previous period, or CSV without it
// (a CSV holds one period's rows; the previous one is its own download).
export function historyUrl(channel, range, csv = false) {
  const query = new URLSearchParams({
    from: String(range.from),
    to: String(range.to),
    interval: range.interval,
  });
  if (csv) query.set("format", "csv");
  else query.set("compare", "previous");
  return `/api/history/${encodeURIComponent(channel)}?${query}`;
}

export function currentRange() {
  return current.kind === "live" ? null : current;
}

export function onRangeChange(listener) {
  listeners.push(listener);
}

// The term's dates are asked for when "this term" is first picked: before the admin signed
// in the API would refuse them.
async function loadTerm() {
  try {
    const response = await fetch("/api/config", { cache: "no-store", credentials: "same-origin" });
    const body = response.ok ? await response.json() : null;
    term = body !== null && typeof body === "object" && typeof body.term === "object" ? body.term : null;
  } catch (err) {
    term = null;
  }
}

async function choose(kind) {
  const note = byId("range-note");
  byId("range-custom").hidden = kind !== "custom";
  if (kind === "term" && term === null) {
    note.textContent = "loading the term…";
    await loadTerm();
    if (byId("range").value !== "term") return; // the admin picked another range meanwhile
  }
  const options = { term, from: byId("range-from").value, to: byId("range-to").value };
  const picked = kind === "live" ? { kind } : rangeOf(kind, Date.now(), options);
  if (picked === null) {
    note.textContent = kind === "custom" ? "pick two days" : "the term's dates did not load";
    return;
  }
  note.textContent = "";
  current = picked;
  for (const listener of listeners) listener(currentRange());
}

export function setupRange() {
  const select = byId("range");
  select.value = "live";
  select.addEventListener("change", () => choose(select.value));
  byId("range-custom").addEventListener("submit", (event) => {
    event.preventDefault();
    choose("custom");
  });
  const today = utcMidnight(Date.now());
  byId("range-from").value = dayText(today - 6 * DAY_MS);
  byId("range-to").value = dayText(today);
}
