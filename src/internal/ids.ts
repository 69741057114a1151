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
export const make = (): string => {
  const now = Date.now()
  if (now === lastMillis) sequence++
  else {
    lastMillis = now
    sequence = 0
  }
  return now.toString(36).padStart(9, "0") + sequence.toString(36).padStart(4, "0") + node
}
