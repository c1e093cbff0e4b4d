// The admin content API (/api/admin/content), behind the panel's session cookie. Every call
// resolves to {status, body, etag}: the tab decides what a 412 or a 422 means to the editor.

const BASE = "/api/admin/content";

// Item ids hold ":" and "/" (page:/about): one path segment each, escaped.
export function itemUrl(id, action = "") {
  return `${BASE}/${encodeURIComponent(id)}${action ? `/${action}` : ""}`;
}

export async function call(method, url, { body, ifMatch } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (ifMatch !== undefined) headers["if-match"] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "same-origin",
    });
  } catch (err) {
    return { status: 0, body: { error: `the live feed did not answer (${err.message || err})` } };
  }
  let parsed = null;
  try {
    parsed = await response.json();
  } catch (err) {
    parsed = null;
  }
  const etag = (response.headers.get("etag") || "").replace(/^W\//, "").replace(/"/g, "");
  return { status: response.status, body: parsed, etag };
}

// What to tell the editor about an answer that is not a success, in the API's words if any.
export function problem(answer) {
  const body = answer.body && typeof answer.body === "object" ? answer.body : {};
  const said = body.error ?? body.detail ?? body.message;
  if (typeof said === "string" && said) return said;
  if (answer.status === 0) return "the live feed did not answer";
  return `HTTP ${answer.status}`;
}

export function listUrl({ type, status, q }) {
  const query = new URLSearchParams();
  if (type) query.set("type", type);
  if (status) query.set("status", status);
  if (q) query.set("q", q);
  const text = query.toString();
  return text ? `${BASE}?${text}` : BASE;
}

export const TYPES_URL = `${BASE}/types`;
export const CREATE_URL = BASE;
