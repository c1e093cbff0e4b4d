// The backups card: the newest good backup, when the next is due, the last restore drill.
// Red while a backup failed, is overdue, or the last drill did not pass (the alert says why).
import { DASH, byId, el, isNum, num, obj, setText } from "./dom.js";

const UNITS = ["B", "kB", "MB", "GB", "TB"];

function bytes(n) {
  if (!isNum(n) || n < 0) return DASH;
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${UNITS[unit]}`;
}

// "14:02, 3 Dec" with how long ago (or until) it is from now.
function when(ms, now) {
  if (!isNum(ms) || ms <= 0) return DASH;
  const at = new Date(ms).toLocaleString("en-GB", { hour: "2-digit", minute: "2-digit", day: "numeric", month: "short" });
  const minutes = Math.round(Math.abs(now - ms) / 60000);
  const span = minutes < 60 ? `${minutes} min` : minutes < 2880 ? `${Math.round(minutes / 60)} h` : `${Math.round(minutes / 1440)} d`;
  return `${at} (${ms <= now ? `${span} ago` : `in ${span}`})`;
}

function verifiedText(verified) {
  if (verified === true) return "yes";
  if (verified === false) return "no";
  return "not since restart";
}

function drillText(drill) {
  if (drill.passed === true) return "passed";
  if (drill.passed === false) return "failed";
  return "none yet";
}

// [state, headline]: state is "good", "bad" or "none".
function judge(status) {
  const drill = obj(status.drill);
  if (typeof status.failure === "string" && status.failure) return ["bad", `Backup failed: ${status.failure}`];
  if (status.overdue === true) return ["bad", "Backup overdue"];
  if (drill.passed === false) return ["bad", "Restore drill failed"];
  if (!status.last_id) return ["none", "No backup yet"];
  return ["good", "Backed up"];
}

export function renderBackups(data) {
  const status = obj(data);
  const drill = obj(status.drill);
  const now = Date.now();
  const [state, headline] = judge(status);
  byId("backups-card").dataset.state = state;
  setText("backups-state", headline);
  setText("backup-id", typeof status.last_id === "string" && status.last_id ? status.last_id : DASH);
  setText("backup-when", when(status.last_success_ms, now));
  setText("backup-size", bytes(status.size_bytes));
  setText("backup-records", num(status.records));
  setText("backup-verified", status.last_id ? verifiedText(status.verified) : DASH);
  setText("backup-next", when(status.next_due_ms, now));
  setText("backup-drill", drillText(drill));
  const detail = byId("backup-drill-detail");
  const said = typeof drill.detail === "string" ? drill.detail : "";
  detail.hidden = !said;
  detail.replaceChildren(...(said ? [el("span", "", said)] : []));
}
