/** The graph as a Mermaid flowchart. */
import { END, START } from "../constants.js"
import type * as internalGraph from "../graph.js"

const mermaidId = (name: string) => (name === START ? "__start__" : name === END ? "__end__" : name.replace(/[^A-Za-z0-9_]/g, "_"))

export const mermaid = (def: internalGraph.GraphDef): string => {
  const lines = ["flowchart TD", `  __start__([START])`]
  for (const n of def.nodes) lines.push(`  ${mermaidId(n.name)}[${JSON.stringify(n.name)}]`)
  lines.push(`  __end__([END])`)
  for (const e of def.edges) lines.push(`  ${mermaidId(e.from)} --> ${mermaidId(e.to)}`)
  for (const j of def.joins) for (const s of j.sources) lines.push(`  ${mermaidId(s)} ==> ${mermaidId(j.target)}`)
  for (const n of def.nodes) for (const t of n.ends ?? []) lines.push(`  ${mermaidId(n.name)} -.-> ${mermaidId(t)}`)
  for (const b of def.branches) {
    const targets = b.targets ?? [...def.nodes.map((n) => n.name), END]
    for (const t of targets) lines.push(`  ${mermaidId(b.from)} -.-> ${mermaidId(t)}`)
  }
  return lines.join("\n")
}
