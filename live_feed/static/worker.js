// The worker banner: nothing while the worker keeps up; "Worker not running" or "N minutes
// behind" when it does not. The live feed judges it (GET /healthz, polled: the banner must
// show precisely when the worker publishes nothing over the live channels).
import { byId, isNum, num } from "./dom.js";

const POLL_MS = 5000;
let timer = null;

function minutes(seconds) {
  const n = Math.max(1, Math.floor(seconds / 60));
  return n === 1 ? "1 minute" : `${num(n)} minutes`;
}

function ago(seconds) {
  return seconds < 60 ? `${Math.round(seconds)} s` : minutes(seconds);
}

function lagText(lag) {
  return isNum(lag) && lag > 0 ? `lag ${num(lag)} event${lag === 1 ? "" : "s"}` : "";
}

// What the banner says for one /healthz body: [headline, detail], or null when all is well.
export function describe(health) {
  if (!health || typeof health !== "object") return null;
  const lag = lagText(health.lag);
  if (health.worker === "not running") {
    const seen = isNum(health.last_seen_s) ? `last seen ${ago(health.last_seen_s)} ago` : "";
    return ["Worker not running", [lag, seen].filter(Boolean).join(" · ")];
  }
  if (health.worker === "stale") {
    if (isNum(health.behind_s) && health.behind_s >= 60) {
      return [`${minutes(health.behind_s)} behind`, lag ? `(${lag})` : ""];
    }
    const silent = Array.isArray(health.silent) ? health.silent.filter((a) => typeof a === "string") : [];
    return ["Worker partly stopped", silent.length ? `not running: ${silent.join(", ")}` : lag];
  }
  if (health.kafka === "unreachable") return ["Lag unknown", "Kafka unreachable from the live feed"];
  return null;
}

function show(said) {
  const banner = byId("worker-banner");
  if (!said) {
    banner.hidden = true;
    return;
  }
  byId("worker-headline").textContent = said[0];
  byId("worker-detail").textContent = said[1];
  banner.hidden = false;
}

async function poll() {
  try {
    const response = await fetch("/healthz", { cache: "no-store", credentials: "same-origin" });
    show(response.ok ? describe(await response.json()) : null);
  } catch (err) {
    show(null); // the feed itself is unreachable: the connection badge says so
  }
}

export function watchWorker() {
  if (timer !== null) return;
  poll();
  timer = setInterval(poll, POLL_MS);
}

export function stopWatchingWorker() {
  if (timer !== null) clearInterval(timer);
  timer = null;
  show(null);
}
