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
export * as Memory from "./Memory.js"
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
export * as SqliteMemory from "./SqliteMemory.js"
/**
 * @since 0.1.0
 */
export * as SqliteSnapshots from "./SqliteSnapshots.js"
/**
 * @since 0.1.0
 */
export * as StateGraph from "./StateGraph.js"
/**
 * @since 0.1.0
 */
export * as Task from "./Task.js"
/**
 * @since 0.1.0
 */
export * as Graphs from "./Graphs.js"
/**
 * @since 0.1.0
 */
export * as Orchestrator from "./Orchestrator.js"
/**
 * @since 0.1.0
 */
export * as Pipeline from "./Pipeline.js"
/**
 * @since 0.1.0
 */
export * as RunEvent from "./RunEvent.js"
/**
 * @since 0.1.0
 */
export * as Worker from "./Worker.js"
/**
 * @since 0.1.0
 */
export * as WorkflowState from "./WorkflowState.js"
/**
 * @since 0.1.0
 */
export * as Server from "./Server.js"
