/**
 * The functions a `.cpuprofile` spent most time in, self time and total (inclusive) time:
 *
 *   node --import tsx bench/profileTop.ts /tmp/prof/CPU.*.cpuprofile [count]
 */
import * as fs from "node:fs"

interface Node {
  readonly id: number
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const [file, count] = process.argv.slice(2)
const profile = JSON.parse(fs.readFileSync(file!, "utf8")) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const name = (n: Node) =>
  `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/(node_modules|src|bench)\//, "$1/")}:${n.callFrame.lineNumber + 1}`
const self = new Map<string, number>()
const total = new Map<string, number>()
let all = 0
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0
  all += dt
  const leaf = byId.get(id)!
  self.set(name(leaf), (self.get(name(leaf)) ?? 0) + dt)
  const seen = new Set<string>()
  for (let n: Node | undefined = leaf; n !== undefined; n = byId.get(parent.get(n.id) ?? -1)) {
    const k = name(n)
    if (seen.has(k)) continue
    seen.add(k)
    total.set(k, (total.get(k) ?? 0) + dt)
  }
})
const top = (m: Map<string, number>) =>
  [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(count ?? 30)).map(([k, v]) => `${((v / all) * 100).toFixed(1).padStart(5)}%  ${k}`)
console.log(`self time (of ${(all / 1000).toFixed(0)} ms):\n${top(self).join("\n")}\n\ntotal time:\n${top(total).join("\n")}`)
