/**
 * @since 0.1.0
 */
export * as Agent from "./Agent.js"
/**
 * @since 0.1.0
 */
export * as Channel from "./Channel.js"
/**
 * @since 0.1.0
 */
export * as Command from "./Command.js"
/**
 * @since 0.1.0
 */
export * as GraphError from "./GraphError.js"
/**
 * @since 0.1.0
 */
export * as Interrupt from "./Interrupt.js"
/**
 * @since 0.1.0
 */
export * as ScriptedModel from "./ScriptedModel.js"
/**
 * @since 0.1.0
 */
export * as Send from "./Send.js"
/**
 * @since 0.1.0
 */
export * as Snapshot from "./Snapshot.js"
/**
 * @since 0.1.0
 */
export * as Snapshots from "./Snapshots.js"
/**
 * @since 0.1.0
 */
export * as StateGraph from "./StateGraph.js"
/**
 * @since 0.1.0
 */
export * as Task from "./Task.js"
