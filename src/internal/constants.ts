/** @internal */
export const START = "__start__" as const
/** @internal */
export const END = "__end__" as const
/** @internal */
export type START = typeof START
/** @internal */
export type END = typeof END
