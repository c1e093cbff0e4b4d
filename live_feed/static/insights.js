// Funnels and alerts. Any field may be missing or null while models warm up: show "—".

import { DASH, byId, clockTime, duration, el, isNum, list, num, obj, pct } from "./dom.js";

export const DEVICES = ["all", "mobile", "tablet", "desktop"];

let funnelData = {};
let device = "all";

// The step whose sessions fall the most from the step before, when the feed does not say.
function biggestDrop(steps) {
  let worst = 0;
  let name = null;
  for (let i = 1; i < steps.length; i += 1) {
    const drop = (Number(steps[i - 1].sessions) || 0) - (Number(steps[i].sessions) || 0);
    if (drop > worst) [worst, name] = [drop, steps[i].name];
  }
  return name;
}

function funnelView(funnel) {
  const split = obj(obj(funnel.by_device)[device]);
  const stats = device === "all" ? funnel : split;
  const steps = list(stats.steps).map(obj);
  const dropoff = "biggest_dropoff_step" in stats ? stats.biggest_dropoff_step : biggestDrop(steps);
  const overall = isNum(stats.overall_conversion)
    ? stats.overall_conversion
    : steps.length && Number(steps[0].sessions) > 0
      ? (Number(steps[steps.length - 1].sessions) || 0) / Number(steps[0].sessions)
      : null;

  const box = el("div", "funnel");
  box.dataset.funnel = String(funnel.name ?? "");
  const head = el("div", "funnel-head");
  const minutes = isNum(funnel.window_ms) ? `within ${Math.round(funnel.window_ms / 60000)} min` : "";
  head.append(
    el("span", "funnel-name", funnel.name ?? DASH),
    el("span", "muted", minutes),
    el("span", "funnel-overall", `${pct(overall)} overall`),
  );
  box.append(head);
  if (!steps.length) {
    box.append(el("p", "empty", device === "all" ? "No sessions yet" : `No ${device} sessions yet`));
    return box;
  }
  const first = Math.max(1, Number(steps[0].sessions) || 0);
  const rows = el("ol", "funnel-steps");
  steps.forEach((step, i) => {
    const li = el("li", step.name === dropoff && i > 0 ? "step dropoff" : "step");
    li.dataset.step = String(step.name ?? "");
    const name = el("span", "step-name", step.name ?? DASH);
    if (li.classList.contains("dropoff")) name.append(el("span", "tag", "biggest drop-off"));
    const bar = el("span", "step-bar");
    const fill = el("span", "fill");
    fill.style.width = `${Math.min(1, (Number(step.sessions) || 0) / first) * 100}%`;
    bar.append(fill, el("span", "step-sessions", num(step.sessions)));
    li.append(
      name,
      bar,
      el("span", "step-conv n", i === 0 ? DASH : pct(step.conversion)),
      el("span", "step-time n", i === 0 ? DASH : duration(step.median_ms_from_prev)),
    );
    rows.append(li);
  });
  const legend = el("div", "step-legend muted");
  legend.append(el("span", "", "step"), el("span", "", "sessions"),
    el("span", "n", "from previous"), el("span", "n", "median gap"));
  box.append(legend, rows);
  return box;
}

function drawFunnels() {
  const funnels = list(funnelData.funnels).map(obj);
  const root = byId("funnels");
  root.replaceChildren(...(funnels.length ? funnels.map(funnelView) : [el("p", "empty", "No funnel data yet")]));
}

export function renderFunnels(data) {
  funnelData = obj(data);
  drawFunnels();
}

export function setupFunnelDevices() {
  const group = byId("funnel-device");
  const buttons = DEVICES.map((name) => {
    const button = el("button", "", name);
    button.type = "button";
    button.dataset.device = name;
    button.setAttribute("aria-pressed", String(name === device));
    button.addEventListener("click", () => {
      device = name;
      for (const b of buttons) b.setAttribute("aria-pressed", String(b === button));
      drawFunnels();
    });
    return button;
  });
  group.replaceChildren(...buttons);
}

function alertView(alert) {
  const kind = alert.kind === "drop" ? "drop" : "spike";
  const li = el("li", `alert alert-${kind}`);
  li.append(el("p", "alert-reason", alert.reason ?? `${alert.metric ?? "metric"} ${kind}`));
  const meta = el("div", "alert-meta");
  const ratio = isNum(alert.ratio) ? `×${alert.ratio.toFixed(alert.ratio < 10 ? 1 : 0)}` : DASH;
  meta.append(
    el("span", `chip chip-${kind}`, alert.kind ?? DASH),
    el("span", "mono", alert.metric ?? DASH),
    el("span", "", `${num(alert.value)} vs ${num(alert.expected)} expected · ${ratio}`),
    el("span", "muted", clockTime(alert.minute)),
  );
  li.append(meta);
  return li;
}

export function renderAlerts(data) {
  const alerts = list(obj(data).alerts).map(obj);
  alerts.sort((a, b) => (Number(b.minute) || 0) - (Number(a.minute) || 0));
  byId("alerts").replaceChildren(
    ...(alerts.length ? alerts.slice(0, 30).map(alertView) : [el("li", "empty", "All quiet")]),
  );
  const badge = byId("alerts-badge");
  badge.hidden = alerts.length === 0;
  byId("alerts-count").textContent = String(alerts.length);
}
