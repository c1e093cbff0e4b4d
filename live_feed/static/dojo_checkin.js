// The mentors' check-in: today's events, a tap per arrival, a queue that survives being offline.
// Arrivals wait in localStorage until the server has them (202); each carries its own id, so
// one sent twice (an answer lost on the way) is counted once. Names are never asked for.

const TOKEN = "dojo-checkin-token";
const QUEUE = "dojo-checkin-queue";
const EVENTS = "dojo-checkin-events";
const RETRY_MS = 5000;

const byId = (id) => document.getElementById(id);
const load = (key, fallback) => {
  try {
    const value = JSON.parse(localStorage.getItem(key));
    return value ?? fallback;
  } catch {
    return fallback;
  }
};
const save = (key, value) => localStorage.setItem(key, JSON.stringify(value));

let sending = false;
let online = true;

function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function showStatus() {
  const waiting = load(QUEUE, []).length;
  const status = byId("status");
  status.textContent = online ? (waiting ? `sending ${waiting}` : "online") : `offline · ${waiting} waiting`;
  status.classList.toggle("offline", !online);
  const pending = byId("pending");
  pending.hidden = waiting === 0;
  pending.textContent = `${waiting} arrival${waiting === 1 ? "" : "s"} saved on this phone, sent when the connection is back.`;
}

function signIn(failed) {
  byId("door").hidden = true;
  byId("sign-in").hidden = false;
  byId("sign-in-failed").hidden = !failed;
}

function headers() {
  return { authorization: `Bearer ${localStorage.getItem(TOKEN) || ""}`, "content-type": "application/json" };
}

function time(ms) {
  return new Date(ms).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

function render(events) {
  const list = byId("events");
  const counted = load(`${QUEUE}-counted`, {});
  const items = events.map((event) => {
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.event = event.id;
    const title = document.createElement("h2");
    title.textContent = event.title || event.id;
    const meta = document.createElement("div");
    meta.className = "meta";
    const here = (event.attended || 0) + (counted[event.id] || 0);
    meta.textContent = `${time(event.starts_ms)} · ${event.net_tickets ?? 0} booked · ${here} here`;
    const buttons = document.createElement("div");
    buttons.className = "buttons";
    for (const [label, count, walkIn] of [["+1", 1, false], ["+2", 2, false], ["+3", 3, false], ["+1 walk-in", 1, true]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      if (walkIn) button.className = "walk-in";
      button.dataset.count = String(count);
      button.dataset.walkIn = String(walkIn);
      button.addEventListener("click", () => arrive(event.id, count, walkIn, meta, event));
      buttons.append(button);
    }
    li.append(title, meta, buttons);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "empty";
    li.textContent = "No dojo event today.";
    items.push(li);
  }
  list.replaceChildren(...items);
}

function arrive(eventId, count, walkIn, meta, event) {
  const queue = load(QUEUE, []);
  queue.push({ id: newId(), event_id: eventId, count, walk_in: walkIn, ts: Date.now() });
  save(QUEUE, queue);
  const counted = load(`${QUEUE}-counted`, {});
  counted[eventId] = (counted[eventId] || 0) + count;
  save(`${QUEUE}-counted`, counted);
  meta.textContent = `${time(event.starts_ms)} · ${event.net_tickets ?? 0} booked · ${(event.attended || 0) + counted[eventId]} here`;
  showStatus();
  flush();
}

async function flush() {
  if (sending) return;
  sending = true;
  try {
    let queue = load(QUEUE, []);
    while (queue.length) {
      let response;
      try {
        response = await fetch("/api/checkin/attendance", { method: "POST", headers: headers(), body: JSON.stringify(queue[0]) });
      } catch {
        online = false;
        break;
      }
      if (response.status === 401) {
        signIn(true);
        break;
      }
      if (response.status >= 500 || response.status === 429) {
        online = true; // the server answers but cannot take it now: try again shortly
        break;
      }
      online = true;
      // Accepted, or refused for good (a 400 never becomes acceptable): either way it leaves.
      queue = load(QUEUE, []).filter((item) => item.id !== queue[0].id);
      save(QUEUE, queue);
    }
  } finally {
    sending = false;
    showStatus();
  }
}

async function start() {
  if (!localStorage.getItem(TOKEN)) {
    signIn(false);
    showStatus();
    return;
  }
  byId("sign-in").hidden = true;
  byId("door").hidden = false;
  render(load(EVENTS, []));
  try {
    const response = await fetch("/api/checkin/events", { headers: headers() });
    if (response.status === 401) {
      localStorage.removeItem(TOKEN);
      signIn(true);
      return;
    }
    if (response.ok) {
      const body = await response.json();
      const events = Array.isArray(body.events) ? body.events : [];
      save(EVENTS, events);
      save(`${QUEUE}-counted`, {}); // the server's counts now hold what was sent before
      online = true;
      render(events);
    }
  } catch {
    online = false; // offline: the events saved last time are shown
  }
  showStatus();
  flush();
}

byId("sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem(TOKEN, byId("checkin-token").value);
  start();
});
window.addEventListener("online", () => {
  online = true;
  flush();
});
window.addEventListener("offline", () => {
  online = false;
  showStatus();
});
setInterval(() => {
  if (load(QUEUE, []).length) flush();
}, RETRY_MS);
start();
