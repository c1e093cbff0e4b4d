// The Content tab: the catalogue's items with search and status, an edit form built from the
// type's field specs (per-field errors from a 422), revisions with the diff view, revert,
// publish now or at a time, unpublish. A save carries the revision it edits (If-Match); when
// someone else saved first (412) the editor's values stay in the form, with the choice to
// compare, save them over the other revision, or load it instead.

import { byId, el, list, obj } from "./dom.js";
import { CREATE_URL, TYPES_URL, call, itemUrl, listUrl, problem } from "./content_api.js";
import { buildForm, typeSpecs } from "./content_form.js";
import { renderDiff, renderRevisions } from "./content_history.js";
import { layOut } from "./content_layout.js";

const SEARCH_PAUSE_MS = 250;

let specs = null; // type -> field specs, once loaded
let editing = null; // {id, type, base, live_revision, status, form} or {type, form} for a new item
let searchTimer = 0;

function note(text, isError = false) {
  const node = byId("content-note");
  node.textContent = text;
  node.classList.toggle("error", isError);
}

function when(ms) {
  return Number.isFinite(ms) ? new Date(ms).toLocaleString("en-GB") : "";
}

async function loadTypes() {
  const answer = await call("GET", TYPES_URL);
  if (answer.status !== 200) throw new Error(problem(answer));
  specs = typeSpecs(answer.body);
  for (const id of ["content-type", "content-new-type"]) {
    const target = byId(id);
    for (const name of Object.keys(specs)) {
      const option = el("option", "", name);
      option.value = name;
      target.append(option);
    }
  }
}

export async function loadList() {
  const target = byId("content-items");
  const query = { q: byId("content-q").value.trim(), status: byId("content-status").value,
    type: byId("content-type").value };
  const answer = await call("GET", listUrl(query));
  target.replaceChildren();
  if (answer.status !== 200) {
    target.append(el("li", "error", problem(answer)));
    return;
  }
  const items = list(obj(answer.body).items);
  if (!items.length) target.append(el("li", "empty", "No content matches"));
  for (const raw of items) {
    const item = obj(raw);
    const row = el("li", "content-item");
    row.dataset.id = String(item.id ?? "");
    const open = el("button", "content-open");
    open.type = "button";
    open.append(el("span", "content-title", item.title || item.id || "(untitled)"));
    open.append(el("span", "content-id mono", item.id ?? ""));
    open.addEventListener("click", async () => {
      await openItem(String(item.id));
      // On a phone the editor sits below the list: bring it up.
      const editor = byId("content-editor");
      if (editor.getBoundingClientRect().top > innerHeight * 0.5) editor.scrollIntoView({ block: "start" });
    });
    const facts = el("span", "content-facts");
    facts.append(el("span", `badge status-${item.status}`, item.status ?? "?"));
    const live = Number.isInteger(item.live_revision) ? ` · live #${item.live_revision}` : "";
    facts.append(el("span", "muted small", `${item.type} · #${item.revision}${live} · ${when(item.updated_ms)}`));
    row.append(open, facts);
    target.append(row);
  }
}

function showEditor(title, type, fields) {
  const form = buildForm(specs[type] || []);
  byId("content-fields").replaceChildren(form.node);
  form.fill(fields);
  byId("content-editing").textContent = title;
  byId("content-editor").hidden = false;
  byId("content-conflict").hidden = true;
  byId("content-form-error").hidden = true;
  byId("content-message").value = "";
  note("");
  return form;
}

function startNew(type) {
  if (!specs || !specs[type]) return;
  editing = { type, form: showEditor(`New ${type}`, type, {}) };
  byId("content-badge").textContent = "new";
  byId("content-history").hidden = true;
  for (const id of ["content-publish", "content-schedule", "content-unpublish"]) byId(id).disabled = true;
}

export async function openItem(id) {
  const answer = await call("GET", itemUrl(id));
  if (answer.status !== 200) {
    note(problem(answer), true);
    return;
  }
  const item = obj(answer.body);
  const form = showEditor(String(item.id), item.type, item.fields);
  editing = { id: item.id, type: item.type, base: item.revision, live_revision: item.live_revision,
    status: item.status, form };  // prettier-ignore
  const badge = byId("content-badge");
  badge.textContent = `${item.status} · #${item.revision}`;
  badge.className = `badge status-${item.status}`;
  const scheduled = Object.entries(obj(item.scheduled)).map(([action, s]) => `${action} at ${when(obj(s).at_ms)}`);
  if (scheduled.length) note(`Scheduled: ${scheduled.join(", ")}`);
  for (const id_ of ["content-publish", "content-schedule", "content-unpublish"]) byId(id_).disabled = false;
  await loadRevisions();
}

async function loadRevisions() {
  const history = byId("content-history");
  history.hidden = false;
  byId("content-diff").replaceChildren();
  const answer = await call("GET", itemUrl(editing.id, "revisions"));
  renderRevisions(byId("content-revisions"), answer.body, {
    revision: editing.base, live_revision: editing.live_revision,
  }, { diff: showDiff, revert });
}

async function showDiff(a, b = null, title = null) {
  const query = new URLSearchParams({ a: String(a) });
  if (b !== null) query.set("b", String(b));
  const answer = await call("GET", `${itemUrl(editing.id, "diff")}?${query}`);
  const target = byId("content-diff");
  if (answer.status !== 200) {
    target.replaceChildren(el("p", "error", problem(answer)));
    return;
  }
  renderDiff(target, answer.body, title ?? (b === null ? `#${a} against the live revision` : `#${b} → #${a}`));
  target.scrollIntoView({ block: "nearest" });
}

async function save() {
  const fields = editing.form.read();
  const message = byId("content-message").value;
  const answer = editing.id === undefined
    ? await call("POST", CREATE_URL, { body: { type: editing.type, fields, message } })
    : await call("PUT", itemUrl(editing.id), { body: { fields, message }, ifMatch: editing.base });
  const formError = byId("content-form-error");
  formError.hidden = true;
  if (answer.status === 412) {
    editing.current = obj(answer.body).current;
    byId("content-conflict-text").textContent = "Someone else changed this item: it is now at " +
      `revision #${editing.current}, you were editing #${editing.base}. Your edits are still in the form.`;
    byId("content-conflict").hidden = false;
    return;
  }
  if (answer.status === 422) {
    const leftover = editing.form.errors(obj(obj(answer.body).errors));
    const rest = Object.entries(leftover).map(([k, v]) => `${k}: ${v}`).join("; ");
    formError.textContent = rest || "Some fields need another look.";
    formError.hidden = false;
    return;
  }
  if (answer.status !== 200 && answer.status !== 201) {
    formError.textContent = problem(answer);
    formError.hidden = false;
    return;
  }
  editing.form.errors({});
  await openItem(obj(answer.body).id ?? editing.id);
  note(`Saved as revision #${editing.base}.`);
  await loadList();
}

function compare() {
  // The API's diff reads "what a changes against b": theirs against the one you opened.
  showDiff(editing.current, editing.base, `What changed since you opened it: #${editing.base} → #${editing.current}`);
}

function overwrite() {
  editing.base = editing.current;
  byId("content-conflict").hidden = true;
  save();
}

async function act(action, body, done) {
  const answer = await call("POST", itemUrl(editing.id, action), { body });
  if (answer.status !== 200 && answer.status !== 201 && answer.status !== 202) {
    note(problem(answer), true);
    return;
  }
  const kept = editing.form.read(); // a publish or revert does not drop unsaved edits
  await openItem(editing.id);
  if (action === "publish" || action === "unpublish") editing.form.fill({ ...kept });
  note(done);
  await loadList();
}

function publish(localTime) {
  const body = { revision: editing.base };
  if (localTime !== null) {
    const ms = new Date(localTime).getTime();
    if (!Number.isFinite(ms)) {
      note("Pick the date and time to publish at.", true);
      return;
    }
    body.at = ms;
  }
  act("publish", body, localTime === null ? `Revision #${editing.base} is live.` : `Publishing at ${when(body.at)}.`);
}

function unpublish() {
  act("unpublish", {}, "Unpublished: the site no longer shows it.");
}

function revert(n) {
  act("revert", { revision: n }, `Reverted to #${n} as a new draft revision.`);
}

let started = false;

// Called whenever the tab is shown: builds it once, then refreshes the list.
export async function showContent() {
  const view = byId("view-content");
  if (!started) {
    started = true;
    layOut(view, {
      search: () => {
        clearTimeout(searchTimer);
        searchTimer = setTimeout(loadList, SEARCH_PAUSE_MS);
      },
      filter: loadList,
      create: startNew,
      compare,
      overwrite,
      reload: () => openItem(editing.id),
      save,
      publish,
      unpublish,
    });
    try {
      await loadTypes();
    } catch (err) {
      byId("content-items").replaceChildren(el("li", "error", String(err.message || err)));
      return;
    }
  }
  if (specs) await loadList();
}
