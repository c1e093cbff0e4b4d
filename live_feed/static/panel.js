// The live panel: one WebSocket (token in an HttpOnly cookie), reconnecting with backoff.
import {
  renderActivity,
  renderForms,
  renderLastUpdate,
  renderPipeline,
  renderTraffic,
  renderVitals,
} from "./views.js";
import { renderAlerts, renderFunnels, setupFunnelDevices } from "./insights.js";
import { renderJourneys } from "./journeys.js";
import { renderHeatmaps, setupHeatmapSelectors } from "./heatmap.js";
import { renderEngagement, renderRecommendations, renderSegments } from "./learning.js";
import { renderDojo, renderDojoScores } from "./dojo.js";
import { renderBackups } from "./backups.js";
import { renderExperiments } from "./experiments.js";
import { stopWatchingWorker, watchWorker } from "./worker.js";
import { stopWatchingVisitorDay, watchVisitorDay } from "./visitors_note.js";
import { currentRange, onRangeChange, setupRange } from "./range.js";
import { forgetHistory, showHistory } from "./history.js";
import { showContent } from "./content_tab.js";

const RENDER = {
  traffic: renderTraffic,
  forms: renderForms,
  vitals: renderVitals,
  pipeline: renderPipeline,
  activity: (data, kind) => renderActivity(data, kind === "snapshot"),
  funnels: renderFunnels,
  journeys: renderJourneys,
  heatmaps: renderHeatmaps,
  engagement: (data, kind) => {
    renderEngagement(data, kind);
    renderDojoScores(data);
  },
  recommendations: renderRecommendations,
  segments: renderSegments,
  alerts: renderAlerts,
  dojo: renderDojo,
  experiments: renderExperiments,
  backups: renderBackups,
};
const CHANNELS = Object.keys(RENDER);
const TABS = ["live", "insights", "learning", "dojo", "experiments", "content"];
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
  stopWatchingWorker();
  stopWatchingVisitorDay();
}

// The open tab lives in the URL fragment, so a reload or a shared link opens the same view.
// In "live" a tab shows the WebSocket's numbers; in a past range its cards from the store.
function showTab(name) {
  const tab = TABS.includes(name) ? name : "live";
  const range = tab === "content" ? null : currentRange(); // content has no time range
  for (const other of TABS) {
    document.getElementById(`view-${other}`).hidden = other !== tab || range !== null;
    const past = document.getElementById(`history-${other}`);
    if (past) past.hidden = other !== tab || range === null;
  }
  document.querySelector(".range").hidden = tab === "content";
  if (range !== null) showHistory(tab, range);
  if (tab === "content") showContent();
  for (const button of document.querySelectorAll(".tabs [data-tab]")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === tab));
  }
  if (location.hash.slice(1) !== tab) history.replaceState(null, "", tab === "live" ? "/" : `#${tab}`);
}

function setupTabs() {
  for (const button of document.querySelectorAll(".tabs [data-tab]")) {
    button.addEventListener("click", () => showTab(button.dataset.tab));
  }
  document.getElementById("alerts-badge").addEventListener("click", () => {
    showTab("insights");
    document.getElementById("alerts-card").scrollIntoView({ behavior: "smooth", block: "start" });
  });
  window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));
  onRangeChange((range) => {
    forgetHistory(); // a range picked again loads again: "today" has moved on
    document.getElementById("range-title").textContent = range === null ? "live activity" : range.label;
    showTab(location.hash.slice(1));
  });
  showTab(location.hash.slice(1));
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
    watchWorker();
    ws.send(JSON.stringify({ subscribe: CHANNELS }));
  });
  ws.addEventListener("message", (event) => {
    watchVisitorDay(); // a message means the socket was let in: the admin API will be too
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
  setupRange();
  setupTabs();
  setupFunnelDevices();
  setupHeatmapSelectors();
  for (const [channel, render] of Object.entries(RENDER)) {
    if (channel !== "traffic") render({}, "snapshot");
  }
  connect();
}
