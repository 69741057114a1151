/**
 * Server-sent events read from the durable run-event log: each event's id is its row id, so a
 * client that reconnects with `Last-Event-ID` (to any process on the database) gets the events
 * after it, none twice. A stream ends after the run's last event.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { type Shared, waitForRun } from "./context.js"
import { END_EVENT } from "./executor.js"
import { terminal } from "./runs.js"

const encoder = new TextEncoder()

const heartbeat = encoder.encode(": heartbeat\n\n")
const heartbeatMillis = 10_000

const frame = (id: number, event: string, data: string) => encoder.encode(`id: ${id}\nevent: ${event}\ndata: ${data}\n\n`)

/** The run's events after `after`, as SSE frames, until the run's end. @internal */
export const events = (ctx: Shared, runId: string, after: number): Stream.Stream<Uint8Array> =>
  Stream.unwrap(Effect.gen(function*() {
    let last = after
    let done = false
    let sentAt = Date.now()
    const pull: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<never>> = Effect.gen(function*() {
      while (!done) {
        const rows = yield* Effect.orDie(ctx.db.eventsAfter(runId, last, 256))
        if (rows.length > 0) {
          const out: Array<Uint8Array> = []
          for (const r of rows) {
            last = r.id
            if (r.event === END_EVENT) {
              done = true
              break
            }
            out.push(frame(r.id, r.event, r.data))
          }
          if (out.length > 0) {
            sentAt = Date.now()
            return Chunk.unsafeFromArray(out)
          }
          continue
        }
        const run = yield* Effect.orDie(ctx.db.getRun(runId))
        if (run === undefined) break
        if (terminal(run.status)) {
          // written before the status: one more look, then the end
          const more = yield* Effect.orDie(ctx.db.eventsAfter(runId, last, 1))
          if (more.length === 0) break
          continue
        }
        if (Date.now() - sentAt >= heartbeatMillis) {
          // a comment line: keeps proxies from closing an idle stream, and tells the client it is alive
          sentAt = Date.now()
          return Chunk.of(heartbeat)
        }
        yield* waitForRun(ctx, runId, run.worker === ctx.workerId)
      }
      return yield* Effect.fail(Option.none())
    })
    return Stream.repeatEffectChunkOption(pull)
  }))

/** The SSE response of a run's stream, with the paths LangGraph's client reconnects to. @internal */
export const response = (ctx: Shared, threadId: string, runId: string, after: number, onDisconnect?: Effect.Effect<void>) => {
  const base = `/threads/${threadId}/runs/${runId}`
  // a client gone before the end: the stream is interrupted
  const body = onDisconnect === undefined ? events(ctx, runId, after) : Stream.ensuringWith(events(ctx, runId, after), (exit) => exit._tag === "Failure" ? onDisconnect : Effect.void)
  return HttpServerResponse.stream(body, {
    contentType: "text/event-stream",
    headers: {
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
      location: `${base}/stream`,
      "content-location": base
    }
  })
}

/** `Last-Event-ID` as a row id (0: from the start). @internal */
export const lastEventId = (header: string | undefined) => {
  const n = header === undefined ? 0 : Number(header)
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}
