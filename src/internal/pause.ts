/**
 * Builds an error without capturing a stack trace. For the errors a pause is made of (an
 * interrupt's request, `GraphInterrupted`): they are control flow, not bugs, their stack is the
 * fiber runtime's, and V8's capture of it was ~25 µs each, a tenth of an interrupt + resume cycle.
 *
 * @internal
 */
export const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
