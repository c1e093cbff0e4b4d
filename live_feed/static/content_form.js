// The edit form of one content type, built from its field specs (GET /api/admin/content/types):
// one labelled input per field, each with its own error line for a 422's message.

import { el } from "./dom.js";

let zones = null; // IANA zone names for the timezone fields' suggestions, read once

function zoneList() {
  if (zones === null) {
    zones = el("datalist");
    zones.id = "content-zones";
    const names = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    for (const name of names) {
      const option = document.createElement("option");
      option.value = name;
      zones.append(option);
    }
    document.body.append(zones);
  }
  return zones.id;
}

const PLACEHOLDER = {
  datetime: "2026-12-05T10:00:00+00:00",
  timezone: "Europe/London",
  slug: "scratch-club",
  tags: "scratch, ages-8-12",
  path: "/about",
  url: "https://… or /files/…",
};

function input(spec) {
  if (spec.kind === "html" || spec.multiline) {
    const area = el("textarea");
    area.rows = spec.kind === "html" ? 10 : 4;
    return area;
  }
  if (spec.kind === "choice") {
    const select = el("select");
    const options = Array.isArray(spec.options) ? spec.options : [];
    for (const value of spec.required ? options : ["", ...options]) {
      const option = el("option", "", value || "—");
      option.value = value;
      select.append(option);
    }
    return select;
  }
  const field = el("input");
  field.type = spec.kind === "int" ? "number" : "text";
  if (spec.kind === "int") {
    field.step = "1";
    if (Number.isFinite(spec.minimum)) field.min = String(spec.minimum);
    if (Number.isFinite(spec.maximum)) field.max = String(spec.maximum);
  }
  if (spec.kind === "timezone") field.setAttribute("list", zoneList());
  if (PLACEHOLDER[spec.kind]) field.placeholder = PLACEHOLDER[spec.kind];
  field.autocomplete = "off";
  field.spellcheck = spec.kind === "text" || spec.kind === "html";
  return field;
}

// A form for `specs`; returns {node, fill(fields), read() -> fields, errors(map) -> leftover}.
export function buildForm(specs) {
  const node = el("div", "content-fields");
  const parts = new Map();
  for (const spec of specs) {
    if (!spec || typeof spec.name !== "string") continue;
    const id = `content-field-${spec.name}`;
    const label = el("label", "content-label", spec.label || spec.name);
    label.htmlFor = id;
    if (spec.required) label.append(el("span", "required", " *"));
    const field = input(spec);
    field.id = id;
    field.name = spec.name;
    if (Number.isFinite(spec.max_length) && field.tagName !== "SELECT") {
      field.maxLength = spec.max_length;
    }
    const error = el("p", "field-error");
    error.id = `${id}-error`;
    error.hidden = true;
    field.setAttribute("aria-describedby", error.id);
    const row = el("div", `content-field kind-${spec.kind}`);
    row.dataset.field = spec.name;
    row.append(label, field, error);
    node.append(row);
    parts.set(spec.name, { spec, field, error, row });
  }

  function fill(fields) {
    const values = fields && typeof fields === "object" ? fields : {};
    for (const [name, { spec, field }] of parts) {
      const value = values[name];
      if (value === undefined || value === null) field.value = "";
      else if (spec.kind === "tags" && Array.isArray(value)) field.value = value.join(", ");
      else field.value = typeof value === "object" ? JSON.stringify(value) : String(value);
    }
  }

  // Blank optional fields are left out; a blank required one is sent for the API to name.
  function read() {
    const out = {};
    for (const [name, { spec, field }] of parts) {
      const raw = field.value;
      if (raw.trim() === "" && !spec.required) continue;
      if (spec.kind === "int") out[name] = raw.trim() === "" ? raw : Number(raw);
      else if (spec.kind === "tags") out[name] = raw.split(",").map((t) => t.trim()).filter(Boolean);
      else out[name] = raw;
    }
    return out;
  }

  // Show each message beside its field; the messages no field of the form owns are returned.
  function errors(messages) {
    const leftover = {};
    for (const { row, error } of parts.values()) {
      error.hidden = true;
      error.textContent = "";
      row.classList.remove("invalid");
    }
    for (const [name, message] of Object.entries(messages || {})) {
      const part = parts.get(name);
      if (!part) {
        leftover[name] = String(message);
        continue;
      }
      part.error.textContent = String(message);
      part.error.hidden = false;
      part.row.classList.add("invalid");
    }
    const first = [...parts.values()].find((p) => !p.error.hidden);
    if (first) first.field.focus();
    return leftover;
  }

  return { node, fill, read, errors };
}

// The field specs of every type, whatever envelope the API puts them in.
export function typeSpecs(body) {
  const types = body && typeof body === "object" ? (body.types ?? body) : {};
  const out = {};
  const entries = Array.isArray(types)
    ? types.map((t) => [t && t.name, t])
    : Object.entries(types);
  for (const [name, type] of entries) {
    const fields = Array.isArray(type) ? type : type && type.fields;
    if (typeof name === "string" && Array.isArray(fields)) out[name] = fields;
  }
  return out;
}
