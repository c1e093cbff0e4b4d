// Shared DOM and number formatting for the panel's views. Strings from events only ever
// reach the page through textContent / createTextNode, never innerHTML.

const nf = new Intl.NumberFormat("en-GB");
const SVG_NS = "http://www.w3.org/2000/svg";

export const DASH = "—";

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

export function setText(id, value) {
  const node = byId(id);
  if (node) node.textContent = value;
}

export function isNum(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function num(value) {
  return isNum(value) ? nf.format(value) : DASH;
}

export function pct(share) {
  return isNum(share) ? `${Math.round(share * 100)}%` : DASH;
}

export function fixed(value, digits) {
  return isNum(value) ? value.toFixed(digits) : DASH;
}

export function duration(ms) {
  if (!isNum(ms)) return DASH;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function clockTime(ts) {
  return isNum(ts) ? new Date(ts).toLocaleTimeString("en-GB") : "";
}

export function list(value) {
  return Array.isArray(value) ? value : [];
}

export function obj(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

export function emptyRow(text) {
  return el("li", "empty", text);
}
