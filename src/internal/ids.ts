import { randomBytes } from "node:crypto"

let lastMillis = 0
let sequence = 0
const node = randomBytes(3).toString("hex")

/**
 * Time-ordered unique ids: sortable as strings, unique across processes (a per-process random
 * part), monotonic within a process.
 *
 * @internal
 */
let prefix = ""

export const make = (): string => {
  const now = Date.now()
  if (now === lastMillis) sequence++
  else {
    lastMillis = now
    sequence = 0
    prefix = now.toString(36).padStart(9, "0")
  }
  const seq = sequence.toString(36)
  return prefix + (seq.length >= 4 ? seq : "0000".slice(seq.length) + seq) + node
}
