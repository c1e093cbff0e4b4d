// The note beside today's visitors: shown when the day's visitor salt was made anew mid-day
// (Redis lost it and no collector held it), from when on a returning visitor may count
// twice. The live feed reads the collector's flag (GET /api/visitors/day, polled).
import { byId, isNum } from "./dom.js";

const POLL_MS = 30000;
let timer = null;

function hhmm(epochSeconds) {
  const at = new Date(epochSeconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}`;
}

// What the note says for one /api/visitors/day body, or null when the figure is whole.
export function describe(day) {
  if (!day || typeof day !== "object" || day.broken !== true) return null;
  const since = isNum(day.salt_lost_at) && day.salt_lost_at > 0
    ? `since ${hhmm(day.salt_lost_at)} UTC`
    : "today";
  return `Visitor count not exact ${since}: the day's salt was lost, so returning visitors may count twice.`;
}

function show(said) {
  const note = byId("visitors-note");
  byId("today-visitors").classList.toggle("flagged", Boolean(said));
  note.textContent = said || "";
  note.hidden = !said;
}

async function poll() {
  try {
    const response = await fetch("/api/visitors/day", { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) return;
    const said = describe(await response.json());
    show(said);
    byId("visitors-note").dataset.checked = said ? "broken" : "whole"; // when it last asked
  } catch (err) {
    // the feed itself is unreachable: the connection badge says so; keep what was shown
  }
}

export function watchVisitorDay() {
  if (timer !== null) return;
  poll();
  timer = setInterval(poll, POLL_MS);
}

export function stopWatchingVisitorDay() {
  if (timer !== null) clearInterval(timer);
  timer = null;
  show(null);
}
