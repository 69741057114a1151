import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Channel, Interrupt, Orchestrator, Pipeline, Snapshots, StateGraph, Worker } from "effect-stategraph"
import { awaitPipeline, fullLayer, tempDb } from "./fixtures/orchestrator/setup.js"

/**
 * One resume path for every orchestrator: the engine (`stategraph`) and `async` refuse the same
 * answers with the same errors, and a refused resume writes nothing and queues nothing.
 */

class PathApproval extends Interrupt.Tag("PathApproval", {
  request: Schema.Struct({ draft: Schema.String }),
  response: Schema.Struct({ approved: Schema.Boolean })
}) {}

const graph = StateGraph.make({ id: "path", state: { log: Channel.append(Schema.String) } }).pipe(
  StateGraph.addNode("write", () => Effect.succeed({ log: ["draft"] })),
  StateGraph.addNode("review", () =>
    Effect.map(PathApproval.ask({ draft: "draft" }), (a) => ({ log: [a.approved ? "approved" : "rejected"] }))),
  StateGraph.addEdge(StateGraph.START, "write"),
  StateGraph.addEdge("write", "review"),
  StateGraph.compileSync()
)

const resume = (id: "stategraph" | "async", threadId: string, answers: ReadonlyArray<Interrupt.Answer<string, unknown>>) =>
  Orchestrator.orchestrate({ workflowId: "path", graph, input: null, threadId, resume: answers as any }, { id })

/** Pauses `threadId` at the review question through orchestrator `id` (async: with a worker pool until paused). */
const pauseOn = (id: "stategraph" | "async", threadId: string) =>
  id === "stategraph"
    ? Effect.as(Orchestrator.orchestrate({ workflowId: "path", graph, input: {}, threadId }, { id }), "")
    : Effect.scoped(Effect.gen(function*() {
      yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
      const r = yield* Orchestrator.orchestrate({ workflowId: "path", graph, input: {}, threadId }, { id })
      yield* awaitPipeline(r.pipelineId!, ["paused"])
      return r.pipelineId!
    }))

const refusals = [
  { name: "an empty resume", answers: [], tag: "UnknownInterrupt" },
  {
    name: "two answers to the one pending question",
    answers: [PathApproval.respond({ approved: true }), PathApproval.respond({ approved: false })],
    tag: "InterruptAlreadyAnswered"
  }
] as const

describe("one resume path", () => {
  for (const id of ["stategraph", "async"] as const) {
    for (const r of refusals) {
      it.effect(`${id}: ${r.name} is ${r.tag}, writes nothing, queues nothing; the right answer then completes`, () =>
        Effect.gen(function*() {
          const threadId = `${id}-${r.tag}`
          const pipelineId = yield* pauseOn(id, threadId)
          const store = yield* Snapshots.Snapshots
          const before = yield* store.load(threadId)
          const jobsBefore = id === "async" ? (yield* Pipeline.jobs(pipelineId)).length : 0
          const refused = yield* Effect.flip(resume(id, threadId, r.answers))
          expect(refused._tag).toBe(r.tag)
          expect(yield* store.load(threadId)).toEqual(before)
          if (id === "async") {
            expect((yield* Pipeline.pipelineStatus(pipelineId)).status).toBe("paused")
            expect(yield* Pipeline.jobs(pipelineId)).toHaveLength(jobsBefore)
            yield* Effect.scoped(Effect.gen(function*() {
              yield* Worker.start({ concurrency: 1, pollInterval: "5 millis" })
              yield* resume(id, threadId, [PathApproval.respond({ approved: true })])
              yield* awaitPipeline(pipelineId, ["completed"])
            }))
          } else {
            const done = yield* resume(id, threadId, [PathApproval.respond({ approved: true })])
            expect(done.status).toBe("completed")
          }
          expect((yield* graph.getState(threadId)).values.log).toEqual(["draft", "approved"])
        }).pipe(Effect.provide(fullLayer(tempDb()))))
    }
  }
})
