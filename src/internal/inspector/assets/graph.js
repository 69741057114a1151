// Draws the Mermaid flowchart that `graph.toMermaid()` exports — the subset it writes: node
// declarations `id["name"]` / `id([START])` and edges `-->` (static), `==>` (join), `-.->`
// (conditional) — as SVG, layered by distance from START. The mermaid package (several MB) is
// not needed for this subset.
import { html } from "./ui.js"

/** { nodes: [{ id, label }], edges: [{ from, to, kind }] } */
export const parse = (text) => {
  const nodes = new Map()
  const edges = []
  for (const raw of text.split("\n").slice(1)) {
    const line = raw.trim()
    const edge = /^(\w+)\s*(-->|==>|-\.->)\s*(\w+)$/.exec(line)
    if (edge) {
      edges.push({ from: edge[1], to: edge[3], kind: edge[2] === "-->" ? "static" : edge[2] === "==>" ? "join" : "conditional" })
      continue
    }
    const node = /^(\w+)(?:\(\[(.*)\]\)|\[(.*)\])$/.exec(line)
    if (node) {
      const label = node[2] ?? node[3]
      nodes.set(node[1], { id: node[1], label: label.startsWith('"') ? JSON.parse(label) : label, terminal: node[2] !== undefined })
    }
  }
  for (const e of edges) for (const id of [e.from, e.to]) if (!nodes.has(id)) nodes.set(id, { id, label: id, terminal: false })
  return { nodes: [...nodes.values()], edges }
}

const W = 130, H = 34, GX = 30, GY = 56

const layout = ({ nodes, edges }) => {
  const depth = new Map([["__start__", 0]])
  const queue = ["__start__"]
  while (queue.length > 0) {
    const id = queue.shift()
    for (const e of edges) if (e.from === id && !depth.has(e.to)) { depth.set(e.to, depth.get(id) + 1); queue.push(e.to) }
  }
  const max = Math.max(0, ...depth.values())
  for (const n of nodes) if (!depth.has(n.id)) depth.set(n.id, n.id === "__end__" ? max + 1 : max)
  if (depth.get("__end__") <= Math.max(...nodes.filter((n) => n.id !== "__end__").map((n) => depth.get(n.id)))) {
    depth.set("__end__", Math.max(...nodes.filter((n) => n.id !== "__end__").map((n) => depth.get(n.id))) + 1)
  }
  const rows = new Map()
  for (const n of nodes) { const d = depth.get(n.id); rows.set(d, [...(rows.get(d) ?? []), n]) }
  const widest = Math.max(...[...rows.values()].map((r) => r.length))
  const width = widest * (W + GX) + GX
  const pos = new Map()
  for (const [d, row] of rows) {
    const offset = (width - row.length * (W + GX) + GX) / 2
    row.forEach((n, i) => pos.set(n.id, { x: offset + i * (W + GX), y: GX / 2 + d * (H + GY) }))
  }
  return { pos, width, height: (Math.max(...rows.keys()) + 1) * (H + GY) }
}

/** The graph as SVG; `next` and `paused` are node names to highlight. */
export const Graph = ({ mermaid, next = [], paused = [] }) => {
  const g = parse(mermaid)
  const { pos, width, height } = layout(g)
  const label = (n) => (n.id === "__start__" ? "START" : n.id === "__end__" ? "END" : n.label)
  return html`<svg class="graph" viewBox="0 0 ${width} ${height}" role="img" aria-label="graph: ${g.nodes.map(label).join(", ")}; next: ${next.join(", ") || "none"}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" /></marker></defs>
    ${g.edges.map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to)
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y
      const d = y2 > y1 ? `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`
        : `M${a.x + W},${a.y + H / 2} C${a.x + W + 60},${a.y + H / 2} ${b.x + W + 60},${b.y + H / 2} ${b.x + W},${b.y + H / 2}`
      return html`<path class="edge ${e.kind}" d=${d} marker-end="url(#arrow)" />`
    })}
    ${g.nodes.map((n) => {
      const p = pos.get(n.id)
      const cls = ["node", n.terminal ? "terminal" : "", next.includes(n.label) ? "next" : "", paused.includes(n.label) ? "paused" : ""].join(" ")
      return html`<g class=${cls} data-node=${label(n)}><rect x=${p.x} y=${p.y} width=${W} height=${H} rx=${n.terminal ? 17 : 4} />
        <text x=${p.x + W / 2} y=${p.y + H / 2 + 5} text-anchor="middle">${label(n)}</text></g>`
    })}
  </svg>`
}
