// Experiments: each one's variants with rates, always-valid interval bands that narrow as
// units arrive, chance to beat control, SRM and guardrails, the decision line, and controls
// that change the experiment's definition (content) through the admin content API.

import { DASH, byId, el, isNum, list, num, obj, pct } from "./dom.js";

const cards = new Map(); // experiment key -> {card, parts}
const STATUS_CLASS = {
  winner: "exp-good", loser: "exp-poor", srm: "exp-poor", harm: "exp-poor",
  running: "exp-neutral", collecting: "exp-neutral", waiting: "exp-neutral",
};
const RAMPS = [10, 25, 50, 100];

function points(share) {
  return isNum(share) ? `${share >= 0 ? "+" : ""}${(share * 100).toFixed(1)}` : DASH;
}

// The interval of b - a on an axis shared by the experiment's variants, zero marked.
function band(test, span) {
  const box = el("div", "exp-band");
  box.append(el("span", "exp-zero"));
  if (!test || !isNum(test.low) || !isNum(test.high)) return box;
  const at = (x) => `${50 + (50 * Math.max(-span, Math.min(span, x))) / span}%`;
  const range = el("span", "exp-range");
  range.style.left = at(test.low);
  range.style.width = `${(50 * (Math.min(span, test.high) - Math.max(-span, test.low))) / span}%`;
  range.classList.add(test.low > 0 ? "exp-above" : test.high < 0 ? "exp-below" : "exp-across");
  const dot = el("span", "exp-dot");
  dot.style.left = at(test.difference);
  box.title = `${points(test.low)} to ${points(test.high)} points (always-valid)`;
  box.append(range, dot);
  return box;
}

function variantRows(variants) {
  const tests = variants.map((v) => obj(v.vs_control));
  const widest = Math.max(0.01, ...tests.flatMap((t) => [t.low, t.high].filter(isNum).map(Math.abs)));
  const span = Math.min(1, widest);
  return variants.map((v, i) => {
    const t = i === 0 ? null : tests[i];
    const row = el("tr");
    row.dataset.variant = String(v.name);
    row.append(
      el("td", "mono", i === 0 ? `${v.name} (control)` : v.name),
      el("td", "num", num(v.units)),
      el("td", "num", num(v.conversions)),
      el("td", "num", pct(v.rate)),
      el("td", "num", t ? points(t.difference) : DASH),
    );
    const cell = el("td", "exp-band-cell");
    if (t) cell.append(band(t, span));
    row.append(
      cell,
      el("td", "num", t && isNum(t.chance_to_beat) ? pct(t.chance_to_beat) : DASH),
      el("td", "num", t && isNum(t.p_value) ? t.p_value.toPrecision(2) : DASH),
    );
    return row;
  });
}

async function changeDefinition(key, change, note) {
  const id = encodeURIComponent(`experiment:${key}`);
  try {
    const got = await fetch(`/api/admin/content/${id}`, { credentials: "same-origin" });
    if (got.status === 404) throw new Error("no definition yet: create it under Content");
    if (!got.ok) throw new Error(`reading the definition failed (${got.status})`);
    const item = await got.json();
    const fields = { ...obj(item.fields), ...change };
    const put = await fetch(`/api/admin/content/${id}`, {
      method: "PUT", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "If-Match": got.headers.get("ETag") || "" },
      body: JSON.stringify({ fields, message: `panel: ${JSON.stringify(change)}` }),
    });
    if (!put.ok) {
      const body = await put.json().catch(() => ({}));
      throw new Error(Object.values(obj(body.errors)).join("; ") || `saving failed (${put.status})`);
    }
    const published = await fetch(`/api/admin/content/${id}/publish`, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: "{}",
    });
    if (!published.ok) throw new Error(`publishing failed (${published.status})`);
    note.textContent = "saved and published";
    note.className = "small exp-note";
  } catch (err) {
    note.textContent = String(err.message || err);
    note.className = "small exp-note error";
  }
}

function controls(key) {
  const box = el("div", "exp-controls");
  const note = el("span", "small exp-note");
  note.setAttribute("role", "status");
  const act = (label, change) => {
    const button = el("button", "", label);
    button.type = "button";
    button.dataset.action = label.toLowerCase();
    button.addEventListener("click", () => changeDefinition(key, change, note));
    return button;
  };
  const ramp = el("select");
  ramp.setAttribute("aria-label", `Traffic of ${key}`);
  ramp.append(el("option", "", "ramp…"), ...RAMPS.map((p) => {
    const option = el("option", "", `${p} %`);
    option.value = String(p);
    return option;
  }));
  ramp.addEventListener("change", () => {
    if (ramp.value) changeDefinition(key, { traffic: Number(ramp.value) }, note);
  });
  box.append(act("Start", { status: "running" }), act("Pause", { status: "paused" }),
    act("Stop", { status: "stopped" }), ramp, note);
  return box;
}

function cardFor(key) {
  if (cards.has(key)) return cards.get(key);
  const card = el("section", "card exp-card");
  card.dataset.experiment = key;
  const head = el("div", "card-head");
  const title = el("h2", "", key);
  const badge = el("span", "exp-status");
  head.append(title, badge);
  const decision = el("p", "exp-decision");
  const table = el("table", "exp-table");
  const header = el("tr");
  for (const name of ["variant", "units", "conv.", "rate", "Δ points", "always-valid interval",
    "chance to beat", "p (always valid)"]) header.append(el("th", "", name));
  const body = el("tbody");
  table.append(el("thead"), body);
  table.tHead.append(header);
  const checks = el("p", "small exp-checks");
  card.append(head, decision, table, checks, controls(key));
  const entry = { card, parts: { badge, decision, body, checks } };
  cards.set(key, entry);
  return entry;
}

export function renderExperiments(data) {
  const root = byId("experiments-list");
  if (!root) return;
  const experiments = list(obj(data).experiments).filter((e) => e && typeof e.key === "string");
  byId("experiments-empty").hidden = experiments.length > 0;
  const shown = [];
  for (const exp of experiments) {
    const { card, parts } = cardFor(exp.key);
    const status = typeof exp.status === "string" ? exp.status : "waiting";
    parts.badge.textContent = exp.running === false ? `${status} · not running` : status;
    parts.decision.textContent = typeof exp.decision === "string" ? exp.decision : DASH;
    parts.decision.className = `exp-decision ${STATUS_CLASS[status] || "exp-neutral"}`;
    parts.body.replaceChildren(...variantRows(list(exp.variants).map(obj)));
    const srm = obj(exp.srm);
    const guards = list(exp.guardrails).map((g) => obj(g).detail).filter(Boolean);
    parts.checks.textContent = [
      srm.mismatch ? `SRM: mismatch (p = ${Number(srm.p_value).toPrecision(2)})` : "SRM: split as planned",
      guards.length ? `guardrails: ${guards.join("; ")}` : "guardrails: none broken",
      `primary metric: ${exp.primary || DASH}`,
    ].join(" · ");
    shown.push(card);
  }
  root.replaceChildren(...shown);
}
