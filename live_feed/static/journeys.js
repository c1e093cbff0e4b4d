// Journeys: a layered Sankey of the top page transitions, drawn as SVG, plus paths and loops.
// Links that close a cycle are not drawn: a layered diagram cannot show them, and the
// loops list already does. Columns are the longest forward path from an entry page.

import { byId, isNum, list, num, obj, setText, svg } from "./dom.js";
import { renderBars } from "./views.js";

const MAX_LINKS = 16;
// Drawn at the card's own width (the viewBox is in CSS pixels), so the 12 px labels stay
// 12 px on a phone instead of shrinking with the picture (only below MIN_WIDTH do they).
const WIDTH = 760;
const MIN_WIDTH = 300;
const HEIGHT = 300;
const NODE_W = 10;
const GAP = 10;
const CHAR_PX = 7; // about one character of the 12 px label font
const LABEL_SPACE = 170; // room right of the last column for a clipped label (at full width)
const PALETTE = ["#2f6fde", "#8e6ae6", "#20b1c4", "#0c9d61", "#e2a300", "#d95f8a"];

function clip(text, chars) {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

// Back-edges found by a depth-first walk from the busiest entry pages, heaviest links
// first, so the main flow stays forward and only the returns that close a cycle are dropped.
function backEdges(names, links, entries) {
  const out = new Map(names.map((n) => [n, []]));
  const outSum = new Map(names.map((n) => [n, 0]));
  for (const l of links) {
    out.get(l.from).push(l);
    outSum.set(l.from, outSum.get(l.from) + l.count);
  }
  const state = new Map(); // 1 = on the current walk, 2 = finished
  const back = new Set();
  const visit = (node) => {
    state.set(node, 1);
    for (const l of out.get(node)) {
      if (state.get(l.to) === 1) back.add(l);
      else if (!state.has(l.to)) visit(l.to);
    }
    state.set(node, 2);
  };
  const others = [...names].sort((a, b) => outSum.get(b) - outSum.get(a));
  for (const root of [...entries.filter((e) => out.has(e)), ...others]) {
    if (!state.has(root)) visit(root);
  }
  return back;
}

// Column of every node: the longest forward path that reaches it.
function layers(names, forward) {
  const depth = new Map(names.map((n) => [n, 0]));
  // Longest paths in a DAG of at most MAX_LINKS edges: relaxing |edges| times is enough.
  for (let i = 0; i < forward.length; i += 1) {
    let changed = false;
    for (const l of forward) {
      if (depth.get(l.to) < depth.get(l.from) + 1) {
        depth.set(l.to, depth.get(l.from) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return depth;
}

export function sankeyLayout(transitions, entries, width = WIDTH) {
  const labelSpace = Math.round(LABEL_SPACE * Math.min(1, width / WIDTH));
  const links = transitions
    .filter((t) => typeof t.from === "string" && typeof t.to === "string" && t.from !== t.to)
    .filter((t) => isNum(t.count) && t.count > 0)
    .sort((a, b) => b.count - a.count)
    .slice(0, MAX_LINKS)
    .map((t) => ({ from: t.from, to: t.to, count: t.count }));
  const names = [...new Set(links.flatMap((l) => [l.from, l.to]))];
  const back = backEdges(names, links, entries);
  const kept = links.filter((l) => !back.has(l));
  const depth = layers(names, kept);
  const used = [...new Set(kept.flatMap((l) => [l.from, l.to]))];
  const levels = [...new Set(used.map((n) => depth.get(n)))].sort((a, b) => a - b);
  const nodes = new Map(
    used.map((name) => [name, { name, col: levels.indexOf(depth.get(name)), in: 0, out: 0 }]),
  );
  for (const l of kept) {
    nodes.get(l.from).out += l.count;
    nodes.get(l.to).in += l.count;
  }
  const columns = levels.map((_, c) => [...nodes.values()].filter((n) => n.col === c));
  for (const n of nodes.values()) n.value = Math.max(n.in, n.out);
  const scale = Math.min(
    ...columns.map((col) => (HEIGHT - GAP * (col.length - 1)) / col.reduce((s, n) => s + n.value, 0)),
  );
  const step = columns.length > 1 ? (width - NODE_W - labelSpace) / (columns.length - 1) : 0;
  // A label may run up to the next column (or, in the last, to the edge): clipped to fit.
  const room = columns.length > 1 ? Math.min(step, labelSpace) : width - NODE_W;
  const chars = Math.max(6, Math.floor((room - NODE_W) / CHAR_PX));
  columns.forEach((col, c) => {
    col.sort((a, b) => b.value - a.value);
    const total = col.reduce((s, n) => s + n.value * scale, 0) + GAP * (col.length - 1);
    let y = (HEIGHT - total) / 2;
    for (const n of col) {
      Object.assign(n, { x: c * step, y, h: Math.max(2, n.value * scale), sy: 0, ty: 0 });
      y += n.value * scale + GAP;
    }
  });
  const placed = kept.map((l) => ({ ...l, source: nodes.get(l.from), target: nodes.get(l.to) }));
  // Stack each node's links in the order of the nodes at their other end, so bands never cross at a node.
  for (const l of [...placed].sort((a, b) => a.target.y - b.target.y)) {
    l.y0 = l.source.y + l.source.sy + (l.count * scale) / 2;
    l.source.sy += l.count * scale;
  }
  for (const l of [...placed].sort((a, b) => a.source.y - b.source.y)) {
    l.y1 = l.target.y + l.target.ty + (l.count * scale) / 2;
    l.target.ty += l.count * scale;
  }
  return { nodes: [...nodes.values()], links: placed, scale, hidden: links.length - kept.length,
    width, chars };
}

let drawn = null; // the last data drawn, redrawn when the card changes width
let watching = false;

function sankeyWidth(root) {
  const box = root.parentElement?.clientWidth || WIDTH;
  return Math.max(MIN_WIDTH, Math.min(WIDTH, box - 8));
}

function drawSankey(transitions, entries) {
  const root = byId("journeys-sankey");
  drawn = [transitions, entries];
  if (!watching && typeof ResizeObserver !== "undefined") {
    watching = true;
    let last = sankeyWidth(root);
    new ResizeObserver(() => {
      const now = sankeyWidth(root);
      if (now === last || drawn === null) return;
      last = now;
      drawSankey(...drawn);
    }).observe(root.parentElement);
  }
  const layout = sankeyLayout(transitions, entries, sankeyWidth(root));
  if (!layout.links.length) {
    root.replaceChildren();
    byId("sankey-empty").hidden = false;
    return layout;
  }
  byId("sankey-empty").hidden = true;
  const links = svg("g", { fill: "none" });
  for (const l of layout.links) {
    const x0 = l.source.x + NODE_W;
    const x1 = l.target.x;
    const mid = (x0 + x1) / 2;
    const path = svg("path", {
      d: `M${x0},${l.y0} C${mid},${l.y0} ${mid},${l.y1} ${x1},${l.y1}`,
      stroke: PALETTE[l.source.col % PALETTE.length],
      "stroke-width": Math.max(1, l.count * layout.scale),
      class: "link",
      "data-from": l.from,
      "data-to": l.to,
      "data-count": l.count,
    });
    const title = svg("title");
    title.textContent = `${l.from} → ${l.to}: ${num(l.count)} sessions`;
    path.append(title);
    links.append(path);
  }
  const nodes = svg("g");
  for (const n of layout.nodes) {
    const group = svg("g", { class: "node", "data-url": n.name });
    const rect = svg("rect", { x: n.x, y: n.y, width: NODE_W, height: n.h, rx: 2,
      fill: PALETTE[n.col % PALETTE.length] });
    const label = svg("text", { x: n.x + NODE_W + 5, y: n.y + n.h / 2, "dominant-baseline": "middle" });
    label.textContent = clip(n.name, layout.chars);
    const count = svg("tspan", { class: "count", dx: 5 });
    count.textContent = num(n.value);
    label.append(count);
    const title = svg("title");
    title.textContent = `${n.name}: ${num(n.value)} sessions`;
    group.append(rect, label, title);
    nodes.append(group);
  }
  root.setAttribute("viewBox", `-4 -4 ${layout.width + 8} ${HEIGHT + 8}`);
  root.setAttribute("width", String(layout.width + 8));
  root.replaceChildren(links, nodes);
  return layout;
}

export function renderJourneys(data) {
  const d = obj(data);
  const entries = list(d.entries).map(obj);
  const layout = drawSankey(list(d.transitions).map(obj), entries.map((e) => e.url));
  setText("journeys-hidden", layout.hidden ? `${layout.hidden} back-links shown as loops` : "");
  setText("journeys-live", num(d.live_sessions));
  setText("journeys-ended", num(d.sessions_ended));
  setText("journeys-length", isNum(d.avg_path_length) ? d.avg_path_length.toFixed(1) : "—");
  const paths = list(d.paths).map(obj).map((p) => ({
    label: Array.isArray(p.path) ? p.path.join(" → ") : String(p.path ?? "").replaceAll(" > ", " → "),
    sessions: p.sessions,
  }));
  renderBars("journey-paths", paths, "label", "sessions", "No finished journeys yet");
  const loops = list(d.loops).map(obj).map((l) => {
    const pages = list(l.pages).map(String);
    return { label: pages.length > 1 ? `${pages[0]} ⇄ ${pages[1]}` : pages.join(""), count: l.count };
  });
  renderBars("journey-loops", loops, "label", "count", "No loops yet");
  renderBars("journey-entries", entries, "url", "sessions", "No entries yet");
}
