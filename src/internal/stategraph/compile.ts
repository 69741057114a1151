/**
 * `compile` and `compileSync`: the checks types cannot make, then the compiled graph. Public
 * through `StateGraph`.
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Channel from "../../Channel.js"
import type * as GraphError from "../../GraphError.js"
import { InvalidGraph } from "../../GraphError.js"
import type * as Interrupt from "../../Interrupt.js"
import type { END } from "../constants.js"
import * as internalGraph from "../graph.js"
import { type Any, isStateGraph, type StateGraph } from "./builder.js"
import { makeCompiled } from "./compiled.js"
import type { CompiledGraph } from "./model.js"
import type { CompileOptions } from "./options.js"

type Channels = Channel.Channels

type CheckChannels<C extends string, S> = [Exclude<C, keyof S>] extends [never] ? unknown
  : { readonly "input or output names a channel the graph does not have": Exclude<C, keyof S> }

type InputsOf<O> = O extends { readonly input: ReadonlyArray<infer K extends string> } ? K : never
type OutputsOf<O> = O extends { readonly output: ReadonlyArray<infer K extends string> } ? K : never

type BreakpointsOf<O> = "interruptBefore" extends keyof O ? Interrupt.Breakpoint
  : "interruptAfter" extends keyof O ? Interrupt.Breakpoint
  : never

type CheckGotos<G extends string, N extends string> = [Exclude<G, N | END>] extends [never] ? unknown
  : { readonly "a Command routes to an undeclared node": Exclude<G, N | END> }

/**
 * Validates and compiles the graph. Fails with `InvalidGraph` for what types cannot catch
 * (unreachable nodes, an edge out of END, no entry edge).
 *
 * @since 0.1.0
 * @category compiling
 */
export const compile: {
  <N extends string, const O extends CompileOptions<N> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>
  ) => Effect.Effect<CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>, GraphError.InvalidGraph>
  <S extends Channels, N extends string, E, R, G extends string, I, const O extends CompileOptions<N> = {}>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>,
    options?: O
  ): Effect.Effect<CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>, GraphError.InvalidGraph>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: Any, options?: CompileOptions) =>
    Effect.suspend(() => {
      const reason = internalGraph.validate(self.def)
      if (reason !== undefined) return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason }))
      for (const c of [...(options?.input ?? []), ...(options?.output ?? [])]) {
        if (self.def.channels[c] === undefined) {
          return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason: `input or output names "${c}", not a channel of the graph` }))
        }
      }
      for (const n of [...(options?.interruptBefore ?? []), ...(options?.interruptAfter ?? [])]) {
        if (!self.def.nodes.some((d) => d.name === n)) {
          return Effect.fail(new InvalidGraph({ graphId: self.def.id, reason: `breakpoint on unknown node "${n}"` }))
        }
      }
      return Effect.succeed(makeCompiled(internalGraph.compile(self.def, options ?? {})))
    })
)

/**
 * Like `compile`, but throws on an invalid graph: for module-level constants.
 *
 * @since 0.1.0
 * @category compiling
 */
export const compileSync: {
  <N extends string, const O extends CompileOptions<N> = {}>(
    options?: O
  ): <S extends Channels, E, R, G extends string, I>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>
  ) => CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>
  <S extends Channels, N extends string, E, R, G extends string, I, const O extends CompileOptions<N> = {}>(
    self: StateGraph<S, N, E, R, G, I> & CheckGotos<G, N> & CheckChannels<InputsOf<O> | OutputsOf<O>, S>,
    options?: O
  ): CompiledGraph<S, N, E | BreakpointsOf<O>, R, InputsOf<O>, OutputsOf<O>>
} = dual(
  (args) => isStateGraph(args[0]),
  (self: any, options?: CompileOptions) => Effect.runSync(compile(self, options))
)
