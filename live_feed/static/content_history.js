// An item's revision history and the diff view: field by field, text fields as line diffs.

import { el, list, obj } from "./dom.js";

function when(ms) {
  return Number.isFinite(ms) ? new Date(ms).toLocaleString("en-GB") : "";
}

function shown(value) {
  if (value === undefined || value === null) return "—";
  return typeof value === "string" ? value : JSON.stringify(value);
}

// The revisions, newest first; `actions` gives each row its buttons: {diff(n), revert(n)}.
export function renderRevisions(target, body, item, actions) {
  const rows = list(Array.isArray(body) ? body : obj(body).revisions)
    .filter((r) => r && Number.isInteger(r.revision))
    .sort((a, b) => b.revision - a.revision);
  target.replaceChildren();
  if (!rows.length) {
    target.append(el("li", "empty", "No revisions yet"));
    return;
  }
  for (const revision of rows) {
    const n = revision.revision;
    const row = el("li", "revision");
    row.dataset.revision = String(n);
    const head = el("div", "revision-head");
    head.append(el("strong", "", `#${n}`));
    if (n === item.live_revision) head.append(el("span", "badge status-published", "live"));
    if (n === item.revision) head.append(el("span", "badge", "latest"));
    head.append(el("span", "muted small", `${revision.author ?? ""} · ${when(revision.created_ms)}`));
    row.append(head);
    if (revision.message) row.append(el("p", "revision-message", revision.message));
    const buttons = el("div", "revision-actions");
    // Against the live revision; with nothing live, against the one before it.
    const live = Number.isInteger(item.live_revision);
    const against = live || n === 1 ? null : n - 1;
    const label = live ? "Diff vs live" : against === null ? "Show fields" : `Diff vs #${against}`;
    const diff = el("button", "diff-button", label);
    diff.type = "button";
    diff.addEventListener("click", () => actions.diff(n, against));
    buttons.append(diff);
    if (n !== item.revision) {
      const revert = el("button", "revert-button", `Revert to #${n}`);
      revert.type = "button";
      revert.addEventListener("click", () => actions.revert(n));
      buttons.append(revert);
    }
    row.append(buttons);
    target.append(row);
  }
}

function lineClass(line) {
  if (line.startsWith("+++") || line.startsWith("---")) return "diff-file";
  if (line.startsWith("@@")) return "diff-hunk";
  if (line.startsWith("+")) return "diff-add";
  if (line.startsWith("-")) return "diff-del";
  return "diff-same";
}

// One block per changed field: before and after, or the unified line diff of a text field.
export function renderDiff(target, body, title) {
  const changes = list(Array.isArray(body) ? body : (obj(body).changes ?? obj(body).diff));
  target.replaceChildren(el("h3", "diff-title", title));
  if (!changes.length) {
    target.append(el("p", "empty", "No differences"));
    return;
  }
  for (const change of changes) {
    const c = obj(change);
    const block = el("section", `diff-field diff-${c.kind ?? "changed"}`);
    block.dataset.field = String(c.field ?? "");
    block.append(el("h4", "", `${c.field ?? "?"} · ${c.kind ?? "changed"}`));
    const lines = Array.isArray(c.lines) ? c.lines : typeof c.lines === "string" ? c.lines.split("\n") : [];
    if (lines.length) {
      const pre = el("pre", "diff-lines");
      for (const line of lines) pre.append(el("span", lineClass(String(line)), `${line}\n`));
      block.append(pre);
    } else {
      const pair = el("dl", "diff-pair");
      pair.append(el("dt", "", "before"), el("dd", "diff-before", shown(c.before)));
      pair.append(el("dt", "", "after"), el("dd", "diff-after", shown(c.after)));
      block.append(pair);
    }
    target.append(block);
  }
}
