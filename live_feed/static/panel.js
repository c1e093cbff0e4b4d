// The live panel: one WebSocket (token in an HttpOnly cookie), reconnecting with backoff.
import {
  renderActivity,
  renderForms,
  renderLastUpdate,
  renderPipeline,
  renderTraffic,
  renderVitals,
} from "./views.js";

const CHANNELS = ["traffic", "forms", "vitals", "activity", "pipeline"];
const RENDER = {
  traffic: renderTraffic,
  forms: renderForms,
  vitals: renderVitals,
  pipeline: renderPipeline,
  activity: (data, kind) => renderActivity(data, kind === "snapshot"),
};
const UNAUTHORIZED = 4401;
const MAX_BACKOFF_MS = 10000;

let backoff = 500;

function setConnection(state, text) {
  const badge = document.getElementById("conn");
  badge.className = `conn conn-${state}`;
  document.getElementById("conn-text").textContent = text;
}

function showLogin(failed) {
  document.getElementById("login").hidden = false;
  document.getElementById("panel").hidden = true;
  document.getElementById("login-failed").hidden = !failed;
  document.getElementById("token").focus();
  setConnection("down", "signed out");
}

function handle(message) {
  if (!message || typeof message !== "object") return;
  if (message.type === "error") {
    console.warn("live feed:", message.detail);
    return;
  }
  const render = RENDER[message.channel];
  if (!render || (message.type !== "snapshot" && message.type !== "update")) return;
  if (message.data !== null && typeof message.data === "object") {
    render(message.data, message.type);
    renderLastUpdate(message.ts);
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/ws/live`);
  ws.addEventListener("open", () => {
    backoff = 500;
    setConnection("up", "connected");
    ws.send(JSON.stringify({ subscribe: CHANNELS }));
  });
  ws.addEventListener("message", (event) => {
    try {
      handle(JSON.parse(event.data));
    } catch (err) {
      console.error("bad live message", err);
    }
  });
  ws.addEventListener("close", (event) => {
    if (event.code === UNAUTHORIZED) {
      showLogin(false);
      return;
    }
    const wait = backoff * (0.8 + Math.random() * 0.4);
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    setConnection("retry", `reconnecting in ${Math.ceil(wait / 1000)} s`);
    setTimeout(connect, wait);
  });
}

if (new URLSearchParams(location.search).get("login") === "failed") {
  history.replaceState(null, "", "/");
  showLogin(true);
} else {
  renderActivity({ events: [] }, true);
  renderForms({ forms: [] });
  renderVitals({ site: {} });
  connect();
}
