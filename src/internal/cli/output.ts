/**
 * Human output (aligned tables, colour on a TTY) and `--json` output for scripts.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

const useColour = () => process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined

const paint = (code: number) => (text: string) => (useColour() ? `\u001b[${code}m${text}\u001b[0m` : text)

export const bold = paint(1)
export const dim = paint(2)
export const red = paint(31)
export const green = paint(32)
export const yellow = paint(33)
export const cyan = paint(36)

/** A status word in its colour. */
export const status = (s: string) =>
  s === "completed" ? green(s) : s === "failed" ? red(s) : s === "paused" ? yellow(s) : s === "running" ? cyan(s) : s

// eslint-disable-next-line no-control-regex
const visibleLength = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "").length

/** Prints rows under headers, each column as wide as its widest cell. */
export const table = (headers: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c + " ".repeat(widths[i]! - visibleLength(c)))).join("  ").trimEnd()
  return Console.log([bold(line(headers)), ...rows.map(line)].join("\n"))
}

/** Pretty JSON for people, one document for scripts. */
export const json = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

export const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19)

/** Prints `human` or, with --json, `value` as JSON. */
export const either = (asJson: boolean, value: unknown, human: Effect.Effect<void>) => (asJson ? json(value) : human)

/** A one-line progress bar on a TTY (nothing otherwise). */
export const progress = (done: number, total: number) =>
  Effect.sync(() => {
    if (process.stderr.isTTY !== true || total <= 0) return
    const width = 30
    const filled = Math.min(width, Math.round((done / total) * width))
    process.stderr.write(`\r[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${done}/${total}`)
    if (done >= total) process.stderr.write("\n")
  })
