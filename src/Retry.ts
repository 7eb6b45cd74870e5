/**
 * Retry options for events, with backoff that an interrupt cuts short.
 *
 * Options can be set per event (`runEvent(..., { retry })`), per actor (`Actor.tool(..., { retry })`)
 * and per execution (`Retry.withDefaults` / `Retry.layerDefaults`); for each field the most specific
 * setting wins, and the kind's default fills the rest: `tool` and `llm` get 3 attempts with
 * exponential backoff from 1 s capped at 30 s, `agent` is not retried. `ExecutionInterrupted` and
 * contract violations are never retried.
 *
 * @since 0.1.0
 */
import { Cause, Context, Duration, Effect, Layer, Option, Pull, Random, Schedule } from "effect"
import type { ActorKind } from "./EventBus.ts"
import { isExecutionInterrupted } from "./Interrupt.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * How an event is retried.
 *
 * **Details**
 *
 * - `maxAttempts`: attempts in all, the first included (tool / llm: 3, agent: 1).
 * - `schedule`: an Effect `Schedule` fed with the error, giving the delay before each retry; when it
 *   ends, retrying ends. Replaces the four backoff fields below.
 * - `baseDelay` (1 s), `multiplier` (2), `maxDelay` (30 s): exponential backoff,
 *   `min(baseDelay × multiplier^(n-1), maxDelay)` before retry n.
 * - `jitter`: `true` for ±20 %, or a fraction such as `0.5` (default: none).
 * - `retryOn`: which errors are retried: a list of `_tag`s, or a predicate (default: every failure).
 * - `maxRetryTime`: no retry starts later than this after the first attempt started (default: none).
 *
 * @category options
 * @since 0.1.0
 */
export interface RetryOptions {
  readonly maxAttempts?: number | undefined
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
  readonly baseDelay?: Duration.Input | undefined
  readonly multiplier?: number | undefined
  readonly maxDelay?: Duration.Input | undefined
  readonly jitter?: boolean | number | undefined
  readonly retryOn?: ReadonlyArray<string> | ((error: unknown) => boolean) | undefined
  readonly maxRetryTime?: Duration.Input | undefined
}

/**
 * Retry options for the current execution (or any part of a program): a fiber-local reference,
 * empty by default.
 *
 * @category references
 * @since 0.1.0
 */
export const RetryDefaults = Context.Reference<RetryOptions>("agent-interrupt/RetryDefaults", {
  defaultValue: () => ({})
})

/**
 * Runs `effect` with execution-wide retry defaults.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDefaults: {
  (options: RetryOptions): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, options: RetryOptions): Effect.Effect<A, E, R>
} = ((...args: ReadonlyArray<unknown>) => {
  if (args.length === 1) {
    const options = args[0] as RetryOptions
    return <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, RetryDefaults, options)
  }
  return Effect.provideService(args[0] as Effect.Effect<unknown, unknown, unknown>, RetryDefaults, args[1] as RetryOptions)
}) as never

/**
 * A layer setting execution-wide retry defaults.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerDefaults = (options: RetryOptions): Layer.Layer<never> => Layer.succeed(RetryDefaults, options)

/**
 * The defaults of each actor kind.
 *
 * @category models
 * @since 0.1.0
 */
export const kindDefaults: Readonly<Record<ActorKind, RetryOptions>> = {
  agent: { maxAttempts: 1 },
  tool: { maxAttempts: 3, baseDelay: "1 second", multiplier: 2, maxDelay: "30 seconds" },
  llm: { maxAttempts: 3, baseDelay: "1 second", multiplier: 2, maxDelay: "30 seconds" }
}

// -----------------------------------------------------------------------------
// Policy
// -----------------------------------------------------------------------------

/**
 * Retry options resolved for one event.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly maxRetryTime: Option.Option<Duration.Duration>
  /** Whether an error may be retried at all (never `ExecutionInterrupted`). */
  readonly isRetryable: (error: unknown) => boolean
  /**
   * The delay before retry `retry` (1 for the first retry) after `error`, or none when the backoff
   * schedule has ended. Stateful: call it once per retry, in order.
   */
  readonly nextDelay: (retry: number, error: unknown) => Effect.Effect<Option.Option<Duration.Duration>>
}

const merge = (layers: ReadonlyArray<RetryOptions | undefined>): RetryOptions => {
  const out: Record<string, unknown> = {}
  // least specific first, so that more specific layers overwrite field by field
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]
    if (layer === undefined) continue
    for (const [key, value] of Object.entries(layer)) {
      if (value !== undefined) out[key] = value
    }
  }
  return out as RetryOptions
}

const errorTag = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
    ? error._tag
    : undefined

/**
 * Errors that are never retried: an interrupt, and a broken actor contract (it would break again).
 *
 * @category predicates
 * @since 0.1.0
 */
export const isNeverRetried = (error: unknown): boolean =>
  isExecutionInterrupted(error) || errorTag(error) === "ActorContractError"

/**
 * Resolves the retry policy of an event: `event`, then `actor`, then `execution` options, then the
 * kind's defaults, field by field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (
  kind: ActorKind,
  ...layers: ReadonlyArray<RetryOptions | undefined>
): RetryPolicy => {
  const options = merge([...layers, kindDefaults[kind]])
  const maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 1))
  const retryOn = options.retryOn
  const isRetryable = (error: unknown): boolean => {
    if (isNeverRetried(error)) return false
    if (retryOn === undefined) return true
    if (typeof retryOn === "function") return retryOn(error)
    const tag = errorTag(error)
    return tag !== undefined && retryOn.includes(tag)
  }
  const maxRetryTime = options.maxRetryTime === undefined
    ? Option.none()
    : Option.some(Duration.fromInputUnsafe(options.maxRetryTime))

  if (options.schedule !== undefined) {
    const schedule = options.schedule
    let step: ((now: number, input: unknown) => Pull.Pull<[unknown, Duration.Duration], unknown, unknown>) | undefined
    const nextDelay = (_retry: number, error: unknown): Effect.Effect<Option.Option<Duration.Duration>> =>
      Effect.gen(function*() {
        if (step === undefined) step = yield* Schedule.toStep(schedule)
        const now = yield* Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
        return yield* step(now, error).pipe(
          Effect.map(([, delay]) => Option.some(delay)),
          Pull.catchDone(() => Effect.succeed(Option.none<Duration.Duration>())),
          // a schedule that fails stops the retries; the original error is what the caller sees
          Effect.catchCause((cause) =>
            Effect.logWarning("Retry schedule failed; no more retries", Cause.squash(cause)).pipe(
              Effect.as(Option.none<Duration.Duration>())
            )
          )
        )
      })
    return { maxAttempts, maxRetryTime, isRetryable, nextDelay }
  }

  const base = Duration.toMillis(Duration.fromInputUnsafe(options.baseDelay ?? "1 second"))
  const multiplier = options.multiplier ?? 2
  const max = Duration.toMillis(Duration.fromInputUnsafe(options.maxDelay ?? "30 seconds"))
  const jitter = options.jitter === true ? 0.2 : typeof options.jitter === "number" ? options.jitter : 0
  const nextDelay = (retry: number): Effect.Effect<Option.Option<Duration.Duration>> => {
    const raw = Math.min(base * Math.pow(multiplier, retry - 1), max)
    if (jitter <= 0) return Effect.succeed(Option.some(Duration.millis(raw)))
    return Effect.map(Random.next, (r) =>
      Option.some(Duration.millis(Math.max(0, Math.round(raw * (1 - jitter + 2 * jitter * r))))))
  }
  return { maxAttempts, maxRetryTime, isRetryable, nextDelay }
}
