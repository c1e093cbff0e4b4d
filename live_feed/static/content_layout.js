// The Content tab's cards, built once: the list with its filters, the editor (conflict
// notice, form, publishing) and the revisions. `on` holds what each control does.

import { byId, el } from "./dom.js";

const STATUSES = ["draft", "published", "changed", "scheduled", "unpublished"];

function button(id, text, onClick, className = "") {
  const node = el("button", className, text);
  node.type = "button";
  node.id = id;
  node.addEventListener("click", onClick);
  return node;
}

function select(id, label, values, first) {
  const node = el("select");
  node.id = id;
  node.setAttribute("aria-label", label);
  for (const [value, text] of [["", first], ...values.map((v) => [v, v])]) {
    const option = el("option", "", text);
    option.value = value;
    node.append(option);
  }
  return node;
}

export function layOut(view, on) {
  const listCard = el("section", "card content-list-card");
  const filters = el("div", "content-filters");
  const q = el("input");
  Object.assign(q, { id: "content-q", type: "search", placeholder: "Search titles and ids" });
  q.setAttribute("aria-label", "Search content");
  q.addEventListener("input", on.search);
  const status = select("content-status", "Status", STATUSES, "All statuses");
  status.addEventListener("change", on.filter);
  const type = select("content-type", "Type", [], "All types");
  type.addEventListener("change", on.filter);
  filters.append(q, status, type);
  const create = el("div", "content-new");
  create.append(select("content-new-type", "Type of the new item", [], "New…"));
  create.append(button("content-new", "Create", () => on.create(byId("content-new-type").value)));
  listCard.append(el("h2", "", "Content"), filters, create);
  const items = el("ol", "content-items");
  items.id = "content-items";
  listCard.append(items);

  const editor = el("section", "card content-editor-card");
  editor.id = "content-editor";
  editor.hidden = true;
  const head = el("div", "card-head");
  const title = el("h2");
  title.id = "content-editing";
  const badge = el("span", "badge");
  badge.id = "content-badge";
  head.append(title, badge);
  const conflict = el("div", "conflict");
  conflict.id = "content-conflict";
  conflict.setAttribute("role", "alert");
  conflict.hidden = true;
  const says = el("p");
  says.id = "content-conflict-text";
  conflict.append(
    says,
    button("content-compare", "Compare", on.compare),
    button("content-overwrite", "Save mine over theirs", on.overwrite),
    button("content-reload", "Load theirs (drop mine)", on.reload),
  );
  const form = el("form", "content-form");
  form.id = "content-form";
  form.noValidate = true; // the API's messages, beside each field, are the validation
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    on.save();
  });
  const fields = el("div");
  fields.id = "content-fields";
  const note = el("label", "content-label", "Note for this revision");
  const message = el("input");
  Object.assign(message, { id: "content-message", type: "text", maxLength: 500 });
  note.htmlFor = message.id;
  const formError = el("p", "error");
  formError.id = "content-form-error";
  formError.hidden = true;
  const save_ = el("button", "primary", "Save draft");
  Object.assign(save_, { id: "content-save", type: "submit" });
  form.append(fields, note, message, formError, save_);
  const publishing = el("div", "content-publish");
  const at = el("input");
  Object.assign(at, { id: "content-at", type: "datetime-local" });
  at.setAttribute("aria-label", "Publish at");
  publishing.append(
    button("content-publish", "Publish now", () => on.publish(null)),
    at,
    button("content-schedule", "Schedule", () => on.publish(at.value)),
    button("content-unpublish", "Unpublish", on.unpublish),
  );
  const status_ = el("p", "muted small content-note");
  status_.id = "content-note";
  status_.setAttribute("role", "status");
  editor.append(head, conflict, form, publishing, status_);

  const history = el("section", "card content-history-card");
  history.id = "content-history";
  history.hidden = true;
  const revisions = el("ol", "content-revisions");
  revisions.id = "content-revisions";
  const diff = el("div", "content-diff");
  diff.id = "content-diff";
  history.append(el("h2", "", "Revisions"), revisions, diff);
  view.append(listCard, editor, history);
}
