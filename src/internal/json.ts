/**
 * `Schema.Json` with a cheaper check for the JSON values journal records hold.
 *
 * Effect's check of a JSON value sets up a cycle tracker and a frame stack for every value, even a
 * number, and is called through the Schema runtime; decoding a journal line spent most of its time
 * there. This schema makes the same check: scalars and small trees are answered by a bounded walk,
 * anything larger, deeper or cyclic by Effect's own check. It accepts and rejects exactly what
 * `Schema.Json` does, with the same `expected` text and JSON Schema, so records decode and encode as
 * before.
 *
 * @internal
 */
import { Schema } from "effect"

const isEffectJson = Schema.is(Schema.Json)

// Beyond this depth or this many containers, the value is left to Effect's check (which also tells
// a cycle from a deep tree).
const MAX_DEPTH = 16
const MAX_CONTAINERS = 512

const NOT_JSON = -1
const UNDECIDED = -2

// Walks `u` with `budget` containers to spend: what is left of it (≥ 0) when `u` is JSON,
// `NOT_JSON` when it is not, `UNDECIDED` when the budget or the depth ran out. Effect's rules: a
// finite number, a string, a boolean, null, an array read up to its length (a hole is not JSON), a
// plain object of any realm (its own enumerable string keys).
const walk = (u: unknown, depth: number, budget: number): number => {
  if (u === null) return budget
  switch (typeof u) {
    case "string":
    case "boolean":
      return budget
    case "number":
      return Number.isFinite(u) ? budget : NOT_JSON
    case "object":
      break
    default:
      return NOT_JSON
  }
  if (depth >= MAX_DEPTH || budget === 0) return UNDECIDED
  let left = budget - 1
  if (Array.isArray(u)) {
    const length = u.length
    for (let i = 0; i < length && left >= 0; i++) left = walk(u[i], depth + 1, left)
    return left
  }
  const prototype = Object.getPrototypeOf(u)
  if (prototype !== null && prototype !== Object.prototype && Object.getPrototypeOf(prototype) !== null) return NOT_JSON
  const keys = Object.keys(u)
  for (let i = 0; i < keys.length && left >= 0; i++) left = walk((u as Record<string, unknown>)[keys[i]!], depth + 1, left)
  return left
}

const isJson = (u: unknown): u is Schema.Json => {
  const left = walk(u, 0, MAX_CONTAINERS)
  return left === UNDECIDED ? isEffectJson(u) : left >= 0
}

/**
 * `Schema.Json`, checked faster: a refinement of `Schema.Unknown` (which Effect's Schema compiler
 * inlines, where a declaration is called through its runtime) with the same check, expected text
 * and JSON Schema.
 *
 * @internal
 */
export const Json: Schema.Codec<Schema.Json> = Schema.Unknown.pipe(
  Schema.refine(isJson, { expected: "JSON value" })
  // encoded, it is the same JSON value (`Schema.Json`'s encoded type)
) as Schema.Codec<Schema.Json>
