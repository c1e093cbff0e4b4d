// Click heatmaps: a generic grey page wireframe with the click density over it (canvas),
// rage clicks as circles, dead clicks as crosses, and scroll reach as a bar beside it.

import { DASH, byId, el, isNum, list, num, obj, pct, setText } from "./dom.js";

const VIEWPORTS = ["mobile", "tablet", "desktop"];
const HEIGHT = 420;
// Page widths in CSS px: a tall page at each viewport's proportions.
const WIDTHS = { mobile: 200, tablet: 300, desktop: 400 };
const REACH = ["25", "50", "75", "100"];

const REACH_ROOM = 72 + 18; // the scroll-reach column beside the page and the gap before it

let pages = [];
let chosen = { url: null, viewport: null };
let drawnWidth = null;

// The page's drawn size: its viewport's width, scaled down (proportions kept) to fit the card.
function pageSize(viewport) {
  const w = WIDTHS[viewport] ?? WIDTHS.desktop;
  const room = (byId("heatmap-box").parentElement?.clientWidth || 0) - REACH_ROOM;
  const scale = room > 0 && room < w ? room / w : 1;
  return [Math.floor(w * scale), Math.floor(HEIGHT * scale)];
}

function sizeCanvas(canvas, w, h) {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

function drawWireframe(ctx, w, h, viewport) {
  const box = (x, y, bw, bh, colour) => {
    ctx.fillStyle = colour;
    ctx.fillRect(x * w, y * h, bw * w, bh * h);
  };
  box(0, 0, 1, 1, "#fbfcfd");
  box(0, 0, 1, 0.06, "#dde2e9");
  box(0.04, 0.018, 0.18, 0.024, "#b9c1cc");
  const navItems = viewport === "mobile" ? 0 : viewport === "tablet" ? 3 : 5;
  for (let i = 0; i < navItems; i += 1) box(0.9 - (i + 1) * 0.1, 0.024, 0.07, 0.012, "#c3cad4");
  if (viewport === "mobile") {
    for (let i = 0; i < 3; i += 1) box(0.84, 0.02 + i * 0.008, 0.1, 0.004, "#a9b2be");
  }
  box(0.04, 0.09, 0.92, 0.17, "#eef1f5");
  box(0.08, 0.12, 0.5, 0.03, "#cdd3dc");
  box(0.08, 0.17, 0.64, 0.012, "#dde2e9");
  box(0.08, 0.2, 0.2, 0.035, "#c3cad4");
  const cols = viewport === "desktop" ? 3 : viewport === "tablet" ? 2 : 1;
  const rows = viewport === "mobile" ? 3 : 2;
  const cw = (0.92 - 0.03 * (cols - 1)) / cols;
  const ch = (0.42 - 0.025 * (rows - 1)) / rows;
  for (let r = 0; r < rows; r += 1) {
    for (let c = 0; c < cols; c += 1) {
      const x = 0.04 + c * (cw + 0.03);
      const y = 0.29 + r * (ch + 0.025);
      box(x, y, cw, ch, "#f0f2f6");
      box(x + 0.02, y + 0.015, cw - 0.04, ch * 0.45, "#e2e6ec");
      box(x + 0.02, y + ch * 0.6, cw * 0.7, 0.01, "#d3d9e1");
      box(x + 0.02, y + ch * 0.6 + 0.02, cw * 0.5, 0.01, "#dde2e9");
    }
  }
  for (let i = 0; i < 5; i += 1) box(0.04, 0.75 + i * 0.025, i === 4 ? 0.5 : 0.92, 0.01, "#e3e7ed");
  box(0, 0.91, 1, 0.09, "#e4e8ee");
  box(0.04, 0.935, 0.3, 0.012, "#c9d0d9");
  ctx.strokeStyle = "#d5dbe3";
  ctx.lineWidth = 1;
  ctx.strokeRect(0.5, 0.5, w - 1, h - 1);
}

// Density cells on a 20x20 image scaled up with smoothing: hotter cells are redder and more opaque.
function drawDensity(ctx, w, h, grid) {
  const rows = list(grid).filter(Array.isArray);
  const n = rows.length;
  const m = Math.max(0, ...rows.map((r) => r.length));
  const max = Math.max(0, ...rows.flat().map((v) => (isNum(v) ? v : 0)));
  if (!n || !m || max <= 0) return;
  const small = document.createElement("canvas");
  small.width = m;
  small.height = n;
  const sctx = small.getContext("2d");
  const image = sctx.createImageData(m, n);
  rows.forEach((row, r) => {
    row.forEach((v, c) => {
      if (!isNum(v) || v <= 0) return;
      const t = Math.sqrt(v / max);
      const i = (r * m + c) * 4;
      image.data[i] = Math.round(250 - 30 * t);
      image.data[i + 1] = Math.round(190 * (1 - t) + 30 * t);
      image.data[i + 2] = Math.round(40 * (1 - t) + 30 * t);
      image.data[i + 3] = Math.round(255 * (0.35 + 0.6 * t));
    });
  });
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(small, 0, 0, w, h);
}

function drawSpots(ctx, w, h, rage, dead) {
  for (const spot of rage) {
    if (!isNum(spot.x) || !isNum(spot.y)) continue;
    const r = 6 + Math.min(8, Math.sqrt(Number(spot.count) || 1) * 2);
    ctx.beginPath();
    ctx.arc(spot.x * w, spot.y * h, r, 0, 2 * Math.PI);
    ctx.fillStyle = "rgba(124, 58, 237, 0.16)";
    ctx.fill();
    ctx.strokeStyle = "#7c3aed";
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  ctx.strokeStyle = "#334155";
  ctx.lineWidth = 2;
  for (const spot of dead) {
    if (!isNum(spot.x) || !isNum(spot.y)) continue;
    const [x, y, s] = [spot.x * w, spot.y * h, 5];
    ctx.beginPath();
    ctx.moveTo(x - s, y - s);
    ctx.lineTo(x + s, y + s);
    ctx.moveTo(x + s, y - s);
    ctx.lineTo(x - s, y + s);
    ctx.stroke();
  }
}

function drawReach(reach, h) {
  const root = byId("heatmap-reach");
  root.style.height = `${h}px`;
  const bands = REACH.map((depth) => {
    const share = reach[depth];
    const band = el("div", "reach-band");
    band.dataset.depth = depth;
    band.style.backgroundColor = `rgba(47, 111, 222, ${isNum(share) ? 0.08 + 0.6 * share : 0.04})`;
    band.append(el("span", "reach-depth", `${depth}%`), el("span", "reach-share", pct(share)));
    return band;
  });
  root.replaceChildren(...bands);
}

function fillSelect(select, values, current, labels) {
  select.replaceChildren(
    ...values.map((value) => {
      const option = el("option", "", labels ? labels(value) : value);
      option.value = value;
      option.selected = value === current;
      return option;
    }),
  );
}

function renderBusiest() {
  const max = Math.max(1, ...pages.map((p) => Number(p.clicks) || 0));
  const rows = pages.slice(0, 8).map((page) => {
    const li = el("li", page.url === chosen.url && page.viewport === chosen.viewport ? "picked" : "");
    li.tabIndex = 0;
    li.setAttribute("role", "button");
    const fill = el("span", "fill");
    fill.style.width = `${((Number(page.clicks) || 0) / max) * 100}%`;
    li.append(fill, el("span", "label", `${page.url} · ${page.viewport ?? DASH}`),
      el("span", "value", num(page.clicks)));
    const pick = () => {
      chosen = { url: page.url, viewport: page.viewport };
      draw();
    };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") pick();
    });
    return li;
  });
  byId("heatmap-pages").replaceChildren(...(rows.length ? rows : [el("li", "empty", "No pages yet")]));
}

function draw() {
  const urls = [...new Set(pages.map((p) => p.url))];
  if (!urls.includes(chosen.url)) chosen.url = urls[0] ?? null;
  const forUrl = pages.filter((p) => p.url === chosen.url);
  const available = VIEWPORTS.filter((v) => forUrl.some((p) => p.viewport === v));
  if (!available.includes(chosen.viewport)) chosen.viewport = available[0] ?? "desktop";
  fillSelect(byId("heatmap-url"), urls, chosen.url);
  fillSelect(byId("heatmap-viewport"), available.length ? available : ["desktop"], chosen.viewport);
  const page = obj(forUrl.find((p) => p.viewport === chosen.viewport));
  const [w, h] = pageSize(chosen.viewport);
  drawnWidth = w;
  const wire = sizeCanvas(byId("heatmap-page"), w, h);
  drawWireframe(wire, w, h, chosen.viewport);
  const heat = sizeCanvas(byId("heatmap-heat"), w, h);
  drawDensity(heat, w, h, page.grid);
  const rage = list(page.rage).map(obj);
  const dead = list(page.dead).map(obj);
  drawSpots(heat, w, h, rage, dead);
  drawReach(obj(page.scroll_reach), h);
  byId("heatmap-box").dataset.url = String(page.url ?? "");
  setText("heatmap-clicks", num(page.clicks));
  setText("heatmap-views", num(page.views));
  const sum = (spots) => spots.reduce((s, x) => s + (Number(x.count) || 0), 0);
  setText("heatmap-rage", num(isNum(page.rage_clicks) ? page.rage_clicks : sum(rage)));
  setText("heatmap-dead", num(isNum(page.dead_clicks) ? page.dead_clicks : sum(dead)));
  setText("heatmap-note", page.url === undefined ? "No clicks recorded yet"
    : page.grid ? "" : "Only the busiest pages keep a click grid");
  setText("heatmap-title", page.url ?? DASH);
  renderBusiest();
}

export function renderHeatmaps(data) {
  pages = list(obj(data).pages).map(obj).filter((p) => typeof p.url === "string");
  draw();
}

export function setupHeatmapSelectors() {
  // A phone, a rotated one, or the tab first shown: the page is drawn again at its new size.
  new ResizeObserver(() => {
    if (drawnWidth !== null && pageSize(chosen.viewport)[0] !== drawnWidth) draw();
  }).observe(byId("heatmap-box").parentElement);
  byId("heatmap-url").addEventListener("change", (event) => {
    chosen = { url: event.target.value, viewport: chosen.viewport };
    draw();
  });
  byId("heatmap-viewport").addEventListener("change", (event) => {
    chosen = { url: chosen.url, viewport: event.target.value };
    draw();
  });
}
