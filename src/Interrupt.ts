/**
 * The vocabulary of an interrupt: why a run stops, the signal that says so, the event that announces
 * it, the typed error every checkpoint fails with, and the shape of an external checker.
 *
 * Everything here is a Schema, so it crosses processes, disks and HTTP unchanged: wire values keep the
 * seed's snake_case strings (`user_cancelled`, `timeout`, ...).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schema } from "effect"
import { withoutStackTrace } from "./internal/stackless.ts"

// -----------------------------------------------------------------------------
// Statuses and reasons
// -----------------------------------------------------------------------------

/**
 * The status of an execution event, as the seed's `ExecutionStatus` enum.
 *
 * @category models
 * @since 0.1.0
 */
export const ExecutionStatus = Schema.Literals([
  "started",
  "completed",
  "failed",
  "awaiting",
  "human_intervention",
  "recovered",
  "interrupted",
  "cancelling",
  "retrying"
])

/**
 * @category models
 * @since 0.1.0
 */
export type ExecutionStatus = typeof ExecutionStatus.Type

/**
 * Why an execution was interrupted, as the seed's `InterruptReason` enum.
 *
 * @category models
 * @since 0.1.0
 */
export const InterruptReason = Schema.Literals([
  "user_cancelled",
  "timeout",
  "resource_limit",
  "error_threshold",
  "priority_override",
  "system_shutdown",
  "custom"
])

/**
 * @category models
 * @since 0.1.0
 */
export type InterruptReason = typeof InterruptReason.Type

/**
 * Every interrupt reason, in declaration order.
 *
 * @category models
 * @since 0.1.0
 */
export const interruptReasons: ReadonlyArray<InterruptReason> = InterruptReason.literals

/**
 * Where a whole execution (a run and its resumes) stands — one vocabulary for the journal's fold, the
 * checkpoint stores, the control plane and its HTTP API:
 *
 * - `running`: an attempt is under way.
 * - `awaiting`: paused for a person's answer (human in the loop); no process needs to hold it.
 * - `cancelling`: interrupted, still draining and saving (between the interrupt and the end).
 * - `interrupted`, `completed`, `failed`: the last attempt ended so.
 * - `lost`: the journal says running but its owner is gone (its lease expired or its process died);
 *   resume it anywhere.
 *
 * @category models
 * @since 0.2.0
 */
export const RunStatus = Schema.Literals([
  "running",
  "awaiting",
  "cancelling",
  "interrupted",
  "completed",
  "failed",
  "lost"
])

/**
 * @category models
 * @since 0.2.0
 */
export type RunStatus = typeof RunStatus.Type

/**
 * Whether an attempt is under way in some process (`running` or `cancelling`): the others need no
 * process (`awaiting`) or have ended (`interrupted`, `completed`, `failed`, `lost`).
 *
 * @category guards
 * @since 0.2.0
 */
export const isRunActive = (status: RunStatus): boolean => status === "running" || status === "cancelling"

/**
 * A valid state id: letters, digits, `.`, `_` and `-`, 1 to 128 characters, not starting with `.`.
 * Safe as a file name, a Redis key part and a URL segment.
 *
 * @category models
 * @since 0.1.0
 */
export const StateId = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/, {
    expected: "a state id of 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"
  }))
)

/**
 * Tells whether a string is a valid state id.
 *
 * @category guards
 * @since 0.1.0
 */
export const isStateId: (u: unknown) => u is string = Schema.is(StateId)

/**
 * What to do with an id that is not a valid state id, in one sentence.
 *
 * @category models
 * @since 0.2.0
 */
export const STATE_ID_RULE = "use 1 to 128 letters, digits, '.', '_' or '-', not starting with '.'"

// -----------------------------------------------------------------------------
// InterruptSignal
// -----------------------------------------------------------------------------

const nowIso = Effect.sync(() => new Date().toISOString())
const defaultTrue = Effect.succeed(true)

/**
 * A UTC ISO-8601 timestamp such as `2026-11-24T10:00:00.000Z`.
 *
 * @category models
 * @since 0.1.0
 */
export const IsoTimestamp = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/, {
    expected: "a UTC ISO-8601 timestamp such as 2026-11-24T10:00:00.000Z"
  }))
)

/**
 * The details of one interrupt: why, what was said, when, by whom, and whether a checkpoint should
 * be written.
 *
 * `triggeredAt` defaults to the current time (UTC ISO string) and `saveCheckpoint` to `true`, both in
 * the constructor and when decoding.
 *
 * **Example** (Creating a signal)
 *
 * ```ts
 * import { InterruptSignal } from "agent-interrupt"
 *
 * const signal = new InterruptSignal({ reason: "timeout" })
 * signal.saveCheckpoint // => true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export class InterruptSignal extends Schema.Class<InterruptSignal>("agent-interrupt/InterruptSignal")({
  reason: InterruptReason,
  message: Schema.optionalKey(Schema.String),
  triggeredAt: IsoTimestamp.pipe(Schema.withDecodingDefaultKey(nowIso), Schema.withConstructorDefault(nowIso)),
  triggeredBy: Schema.optionalKey(Schema.String),
  saveCheckpoint: Schema.Boolean.pipe(
    Schema.withDecodingDefaultKey(defaultTrue),
    Schema.withConstructorDefault(defaultTrue)
  )
}) {}

/**
 * `InterruptSignal` as a JSON string, for Redis, files and HTTP bodies.
 *
 * @category codecs
 * @since 0.1.0
 */
export const InterruptSignalJson = Schema.fromJsonString(InterruptSignal)

// -----------------------------------------------------------------------------
// InterruptEvent
// -----------------------------------------------------------------------------

/**
 * Published on the bus exactly once per execution, by the request that interrupted it.
 *
 * @category models
 * @since 0.1.0
 */
export class InterruptEvent extends Schema.TaggedClass<InterruptEvent>("agent-interrupt/InterruptEvent")(
  "InterruptEvent",
  {
    signal: InterruptSignal,
    stateId: Schema.String,
    /** When the interrupt took effect in the run's process (it was requested at `signal.triggeredAt`). */
    at: Schema.optionalKey(IsoTimestamp),
    /** How it arrived, when it came from elsewhere: `push` (a message), `poll` (a checker). */
    via: Schema.optionalKey(Schema.String)
  }
) {}

// -----------------------------------------------------------------------------
// ExecutionInterrupted
// -----------------------------------------------------------------------------

/**
 * What `new ExecutionInterrupted(...)` accepts: only `reason` is required.
 *
 * @category models
 * @since 0.1.0
 */
export interface ExecutionInterruptedProps {
  readonly reason: InterruptReason
  readonly message?: string | undefined
  readonly signal?: InterruptSignal | undefined
}

/**
 * The typed error every interrupt checkpoint fails with.
 *
 * The default message is `Execution interrupted: {reason}`; the default signal is a fresh signal with
 * that reason. Build one from a signal with {@link ExecutionInterrupted.fromSignal}: its message is
 * the signal's message when the signal has one.
 *
 * **Example** (Handling an interrupt by type)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ExecutionInterrupted } from "agent-interrupt"
 *
 * const program = Effect.fail(new ExecutionInterrupted({ reason: "timeout" })).pipe(
 *   Effect.catchTag("ExecutionInterrupted", (e) => Effect.succeed(e.message))
 * )
 * // => "Execution interrupted: timeout"
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export class ExecutionInterrupted extends Schema.TaggedError<ExecutionInterrupted>(
  "agent-interrupt/ExecutionInterrupted"
)("ExecutionInterrupted", {
  reason: InterruptReason,
  message: Schema.String,
  signal: InterruptSignal
}) {
  constructor(props: ExecutionInterruptedProps, options?: Schema.MakeOptions) {
    super({
      reason: props.reason,
      message: props.message ?? `Execution interrupted: ${props.reason}`,
      signal: props.signal ?? new InterruptSignal({ reason: props.reason })
    }, options)
  }

  /**
   * The error a checkpoint fails with once `signal` has interrupted the execution: the signal's
   * message when it has one (as the seed's `ExecutionInterrupted(signal.reason, signal.message)`),
   * else `Execution interrupted: {reason}`.
   */
  static fromSignal(signal: InterruptSignal): ExecutionInterrupted {
    // The fields come from a signal that is valid already, so they are not checked again; and the
    // error has no stack trace: an interrupt is an expected, typed outcome, and its stack would only
    // show where the stop was noticed. Both made it cost ten times what the rest of a stop costs.
    return withoutStackTrace(() =>
      new ExecutionInterrupted({ reason: signal.reason, message: signal.message, signal }, { disableChecks: true })
    )
  }
}

/**
 * Tells whether a value is an `ExecutionInterrupted` error.
 *
 * @category guards
 * @since 0.1.0
 */
export const isExecutionInterrupted = (u: unknown): u is ExecutionInterrupted => u instanceof ExecutionInterrupted

// -----------------------------------------------------------------------------
// InterruptChecker
// -----------------------------------------------------------------------------

/**
 * What an external checker may answer: `true` (interrupt with the default external signal), an
 * `InterruptSignal` (used as is), or `false` / `null` / `undefined` (carry on).
 *
 * @category models
 * @since 0.1.0
 */
export type InterruptCheckerResult = boolean | InterruptSignal | null | undefined

/**
 * An external interrupt source polled by `checkInterrupt`: a function returning a
 * {@link InterruptCheckerResult}, a Promise of one, or an Effect of one. This covers the seed's six
 * checker kinds (sync / async × boolean / signal / optional signal) plus Effect checkers.
 *
 * @category models
 * @since 0.1.0
 */
export type InterruptChecker = () =>
  | InterruptCheckerResult
  | PromiseLike<InterruptCheckerResult>
  | Effect.Effect<InterruptCheckerResult, unknown>

/**
 * What happens when the checker throws, rejects, fails, answers something unexpected or takes longer
 * than `checkerTimeout`: `"continue"` logs it and carries on, `"interrupt"` fails closed with reason
 * `error_threshold`.
 *
 * @category models
 * @since 0.1.0
 */
export type OnCheckerError = "continue" | "interrupt"

/**
 * Why a checker call was rejected.
 *
 * @category errors
 * @since 0.1.0
 */
export class InterruptCheckerError extends Schema.TaggedError<InterruptCheckerError>(
  "agent-interrupt/InterruptCheckerError"
)("InterruptCheckerError", {
  kind: Schema.Literals(["threw", "rejected", "failed", "bad_value", "timed_out"]),
  detail: Schema.String,
  cause: Schema.optionalKey(Schema.Defect())
}) {
  override get message(): string {
    switch (this.kind) {
      case "threw":
        return `Interrupt checker threw: ${this.detail}`
      case "rejected":
        return `Interrupt checker rejected: ${this.detail}`
      case "failed":
        return `Interrupt checker failed: ${this.detail}`
      case "bad_value":
        return `Interrupt checker returned an unexpected value: ${this.detail}`
      case "timed_out":
        return `Interrupt checker did not answer within ${this.detail}`
    }
  }
}

// -----------------------------------------------------------------------------
// Stop policies
// -----------------------------------------------------------------------------

/**
 * How running handlers are stopped once an interrupt arrives.
 *
 * - `abort`: tell running handlers at once (their `AbortSignal` aborts) and interrupt their fibers
 *   after `grace` (default 0: at once).
 * - `drain`: start nothing new, let running handlers finish, and abort them at `deadline`.
 *
 * Either way nothing new starts: every checkpoint fails from the moment of the interrupt.
 *
 * @category models
 * @since 0.1.0
 */
export type StopPolicy =
  | { readonly _tag: "abort"; readonly grace: Duration.Duration }
  | { readonly _tag: "drain"; readonly deadline: Duration.Duration }

/**
 * A stop policy per interrupt reason; reasons left out keep their default.
 *
 * @category models
 * @since 0.1.0
 */
export type StopPolicies = { readonly [R in InterruptReason]?: StopPolicy | undefined }

/**
 * Constructors and defaults for stop policies.
 *
 * **Example** (Give handlers 2 seconds on a user stop)
 *
 * ```ts
 * import { StopPolicy } from "agent-interrupt"
 *
 * const policies = { user_cancelled: StopPolicy.abort("2 seconds") }
 * StopPolicy.resolve("user_cancelled", policies)._tag // => "abort"
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const StopPolicy = {
  /** Abort running handlers after `grace` (default 0). */
  abort: (grace: Duration.Input = 0): StopPolicy => ({ _tag: "abort", grace: Duration.fromInputUnsafe(grace) }),
  /** Let running handlers finish, aborting them at `deadline` (default 10 seconds). */
  drain: (deadline: Duration.Input = "10 seconds"): StopPolicy => ({
    _tag: "drain",
    deadline: Duration.fromInputUnsafe(deadline)
  }),
  /** How long running handlers may go on after the interrupt. */
  allowance: (policy: StopPolicy): Duration.Duration => policy._tag === "abort" ? policy.grace : policy.deadline,
  /** The default for a reason: `system_shutdown` drains for 10 seconds, everything else aborts at once. */
  defaultFor: (reason: InterruptReason): StopPolicy => reason === "system_shutdown" ? drainTenSeconds : abortNow,
  /** The policy for `reason`: the first of `layers` (most specific first) that sets it, else the default. */
  resolve: (reason: InterruptReason, ...layers: ReadonlyArray<StopPolicies | undefined>): StopPolicy => {
    for (const layer of layers) {
      const policy = layer?.[reason]
      if (policy !== undefined) return policy
    }
    return reason === "system_shutdown" ? drainTenSeconds : abortNow
  }
}

const abortNow: StopPolicy = { _tag: "abort", grace: Duration.zero }
const drainTenSeconds: StopPolicy = { _tag: "drain", deadline: Duration.seconds(10) }
