/**
 * The graph builder and the compiled graph: typed nodes, edges, joins, conditional routes and
 * `Send` fan-out, run in bulk-synchronous supersteps with a checkpoint per step per thread.
 *
 * The module users import; its parts live in `internal/stategraph/`: the builder
 * (`builder.ts`), its type-level checks (`types.ts`), the options (`options.ts`), the stream
 * parts (`streaming.ts`), the compiled graph's interface (`model.ts`) and behaviour
 * (`compile.ts`, `compiled.ts`, `threads.ts`).
 *
 * @since 0.1.0
 */
import * as constants from "./internal/constants.js"

/**
 * The entry of a graph: `addEdge(START, "first")`.
 *
 * @since 0.1.0
 * @category constants
 */
export const START = constants.START

/**
 * @since 0.1.0
 * @category constants
 */
export type START = constants.START

/**
 * The end of a branch: a route returning `END` stops there.
 *
 * @since 0.1.0
 * @category constants
 */
export const END = constants.END

/**
 * @since 0.1.0
 * @category constants
 */
export type END = constants.END

export {
  /**
   * @since 0.1.0
   * @category type ids
   */
  TypeId
} from "./internal/stategraph/model.js"

export type {
  AnyCompiled,
  CompiledGraph,
  ErrorOf,
  InputOf,
  InterruptedOf,
  NodesOf,
  OutputOf,
  ResumeUpdate,
  RunCommand,
  StateOf,
  ThreadState
} from "./internal/stategraph/model.js"

export type {
  AddInput,
  CheckListed,
  CheckOutput,
  CheckUpdate,
  GotosOf,
  HandoffsOf,
  HandoffTargets,
  HandoffTo,
  NewName,
  NodeInputs,
  NodeOutput,
  NotAChannel,
  NotAnUpdate,
  OutputHint,
  RouteResult,
  RouteTarget,
  SendTo,
  SubgraphArg,
  SubgraphError,
  ValidOutput,
  WrongUpdate
} from "./internal/stategraph/types.js"

export type {
  CachePolicy,
  CompileOptions,
  InterruptsOf,
  NodeOptions,
  PerCallOptions,
  ResumeOptions,
  RunError,
  RunOptions
} from "./internal/stategraph/options.js"

export type {
  DebugPart,
  StreamMode,
  StreamOptions,
  StreamPart,
  StreamPartOf,
  SubgraphPart,
  TaskPart
} from "./internal/stategraph/streaming.js"

export type { Any, StateGraph } from "./internal/stategraph/builder.js"

export { addConditionalEdges, addEdge, addNode, isStateGraph, make } from "./internal/stategraph/builder.js"

export { compile, compileSync } from "./internal/stategraph/compile.js"

export {
  /** @internal */
  fromOutcome,
  /** @internal */
  makeCompiled
} from "./internal/stategraph/compiled.js"
