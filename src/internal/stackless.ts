/**
 * Building an error without a stack trace, for errors that are expected outcomes: capturing a stack
 * is most of what building one costs. Effect builds its `SchemaError`s the same way.
 *
 * @internal
 */

// In a hardened environment (a frozen `Error`) the limit cannot be changed: errors keep their stack.
const writable = (() => {
  const descriptor = Object.getOwnPropertyDescriptor(Error, "stackTraceLimit")
  if (descriptor === undefined) return Object.isExtensible(Error)
  return descriptor.writable === true || descriptor.set !== undefined
})()

/** Runs `make` with stack traces off. @internal */
export const withoutStackTrace = <A>(make: () => A): A => {
  if (!writable) return make()
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
