/**
 * The interrupt state of one execution: a Ref-backed service that records the first interrupt,
 * announces it once on the bus, wakes everything waiting for it, and answers `checkInterrupt` at the
 * checkpoints of the run.
 *
 * It also owns the execution's timeout, its external checker (with a timeout, a throttle and a
 * failure policy), the registry of generator fibers (streams) that die with the interrupt, and the
 * stop policy that says how long running handlers may go on after it.
 *
 * @since 0.1.0
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberHandle,
  Layer,
  Option,
  Predicate,
  Ref,
  Schedule,
  Schema,
  Scope
} from "effect"
import { CircuitBreaker } from "effect/persistence"
import { SingleShotGen } from "effect/Utils"
import { EventBus } from "./EventBus.ts"
import { errorMessage } from "./internal/text.ts"
import { formatSeconds, isoOf } from "./internal/time.ts"
import {
  ExecutionInterrupted,
  type InterruptChecker,
  InterruptCheckerError,
  InterruptEvent,
  type InterruptReason,
  InterruptSignal,
  isStateId,
  type OnCheckerError,
  STATE_ID_RULE,
  type StopPolicies,
  StopPolicy
} from "./Interrupt.ts"
import { Journal, make as makeJournal } from "./Journal.ts"

export {
  /** @deprecated moved to `Interrupt.ts`; still exported here. */
  isStateId,
  /** @deprecated moved to `Interrupt.ts`; still exported here. */
  StateId
} from "./Interrupt.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * What `requestInterrupt` takes; every field is optional (`reason` defaults to `user_cancelled`,
 * `saveCheckpoint` to `true`).
 *
 * @category models
 * @since 0.1.0
 */
export interface RequestInterruptOptions {
  readonly reason?: InterruptReason | undefined
  readonly message?: string | undefined
  readonly triggeredBy?: string | undefined
  readonly saveCheckpoint?: boolean | undefined
}

/**
 * Options of `runStoppable`: a stop policy that wins over the layer's, and a callback told the moment
 * the work should wrap up (at once for `abort`, at the deadline for `drain`).
 *
 * @category options
 * @since 0.1.0
 */
export interface StoppableOptions {
  readonly stopPolicy?: StopPolicies | undefined
  readonly onAbort?: ((signal: InterruptSignal) => void) | undefined
}

/**
 * Options of {@link ExecutionState.layerWith}.
 *
 * **Details**
 *
 * - `stateId`: the execution's id (default: a random UUID). Letters, digits, `.`, `_`, `-`; at most
 *   128 characters; not starting with `.`.
 * - `checker`: an external interrupt checker, polled by `checkInterrupt` (default: none).
 * - `checkerTimeout`: how long one checker call may take (default 5 seconds).
 * - `checkerInterval`: call the checker at most once per interval (default 0: on every check).
 * - `onCheckerError`: `"continue"` (default) or `"interrupt"` (fail closed, reason `error_threshold`).
 * - `timeout`: start the execution's timeout at once (default: none).
 * - `stopPolicy`: stop policies per reason (default: `system_shutdown` drains 10 s, others abort).
 * - `onInterrupt`: runs once, when the interrupt wins, before it is announced (the run journals it).
 *
 * @category options
 * @since 0.1.0
 */
export interface ExecutionStateOptions {
  readonly stateId?: string | undefined
  readonly checker?: InterruptChecker | undefined
  readonly checkerTimeout?: Duration.Input | undefined
  readonly checkerInterval?: Duration.Input | undefined
  readonly onCheckerError?: OnCheckerError | undefined
  readonly timeout?: Duration.Input | undefined
  readonly stopPolicy?: StopPolicies | undefined
  readonly onInterrupt?: ((signal: InterruptSignal) => Effect.Effect<void>) | undefined
}

/**
 * The signal a checker answering `true` stands for.
 *
 * @category constructors
 * @since 0.1.0
 */
export const externalCheckerSignal = (triggeredAt: string): InterruptSignal =>
  new InterruptSignal({
    reason: "custom",
    message: "Interrupt signal detected from external source",
    triggeredBy: "external_checker",
    triggeredAt
  })

// -----------------------------------------------------------------------------
// Service
// -----------------------------------------------------------------------------

/**
 * The interrupt of an execution, once it happened.
 *
 * @internal
 */
export interface Interrupted {
  readonly signal: InterruptSignal
  /** Fails with the execution's `ExecutionInterrupted` (built once). */
  readonly failure: Effect.Effect<never, ExecutionInterrupted>
  /** When (Clock milliseconds, with a fraction). */
  readonly at: number
  /** When, on the Clock's monotonic clock (milliseconds): what stop latencies are measured from. */
  readonly monotonicAt: number
}

/**
 * Everything `runEvent` needs from its execution: the interrupt state, the bus and the journal.
 *
 * @category models
 * @since 0.2.0
 */
export type Execution = ExecutionState | EventBus | Journal

// An execution with its own bus and an in-memory journal (the class is passed in: this runs while
// the class is being defined).
const withBus = (
  tag: typeof ExecutionState,
  state: Effect.Effect<ExecutionState["Service"], never, EventBus | Scope.Scope>
): Layer.Layer<Execution> =>
  Layer.effect(Journal, Effect.flatMap(tag, (s) => makeJournal({ stateId: s.stateId }))).pipe(
    Layer.provideMerge(Layer.effect(tag, state)),
    Layer.provideMerge(EventBus.layer)
  )

/**
 * The interrupt state of one execution.
 *
 * @category services
 * @since 0.1.0
 */
export class ExecutionState extends Context.Service<ExecutionState, {
  /** The execution's id. */
  readonly stateId: string
  /**
   * Interrupts the execution unless it already is. The first request wins: it records the signal,
   * publishes the one `InterruptEvent`, wakes `awaitInterrupt`, and stops generators per the stop
   * policy. Succeeds with `true` when this request was the winner, `false` when it changed nothing.
   */
  readonly requestInterrupt: (
    options?: RequestInterruptOptions | InterruptSignal,
    delivery?: { readonly via?: string | undefined }
  ) => Effect.Effect<boolean>
  /** Installs (or with `undefined` removes) the external checker. */
  readonly setInterruptChecker: (checker: InterruptChecker | undefined) => Effect.Effect<void>
  /**
   * A checkpoint: fails with `ExecutionInterrupted` once the execution is interrupted. Reads the local
   * flag first (no allocation), then asks the checker, if any.
   */
  readonly checkInterrupt: Effect.Effect<void, ExecutionInterrupted>
  /**
   * The effect `checkInterrupt` would run right now, chosen synchronously (a prebuilt effect on the
   * fast path). Lets the module-level `checkInterrupt` accessor skip one step.
   */
  readonly checkInterruptUnsafe: () => Effect.Effect<void, ExecutionInterrupted>
  /** Whether the execution has been interrupted (never calls the checker). */
  readonly isInterrupted: Effect.Effect<boolean>
  /** The winning signal, once interrupted. */
  readonly interruptSignal: Effect.Effect<Option.Option<InterruptSignal>>
  /** When the interrupt happened (Clock time in milliseconds, with a fraction), once interrupted. */
  readonly interruptedAt: Effect.Effect<Option.Option<number>>
  /**
   * The winning signal and when it won (as `interruptedAt`), read synchronously: what the steps of
   * an event read on their way, without an effect each.
   *
   * @internal
   */
  readonly currentInterrupt: () => Interrupted | undefined
  /** Resumes with the winning signal the moment the execution is interrupted. */
  readonly awaitInterrupt: Effect.Effect<InterruptSignal>
  /**
   * Resumes when running work must be aborted: the moment of the interrupt plus the allowance of the
   * stop policy for its reason (0 for `abort`, the deadline for `drain`).
   */
  readonly awaitAbort: Effect.Effect<InterruptSignal>
  /** The stop policy for a reason: `overrides` first, then the layer's, then the default. */
  readonly stopPolicy: (reason: InterruptReason, overrides?: StopPolicies) => StopPolicy
  /** Interrupts with reason `timeout` after `duration`; replaces a pending timeout. */
  readonly setTimeout: (duration: Duration.Input, message?: string) => Effect.Effect<void>
  /** Cancels the pending timeout, if any. */
  readonly cancelTimeout: Effect.Effect<void>
  /** Registers a generator fiber (a running stream) to be interrupted with the execution. */
  readonly registerGenerator: (fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<void>
  /** Forgets a generator fiber (it ended on its own). */
  readonly unregisterGenerator: (fiber: Fiber.Fiber<unknown, unknown>) => Effect.Effect<void>
  /** Interrupts every registered generator fiber and waits for them to end. */
  readonly killGenerators: Effect.Effect<void>
  /** How many generator fibers are registered. */
  readonly generatorCount: Effect.Effect<number>
  /**
   * Runs `effect` in a child fiber that the interrupt stops, per the stop policy of its reason (the
   * `stopPolicy` option first): `abort` interrupts it after the grace period, `drain` at the deadline.
   * Succeeds with the child's `Exit` — an interruption when the interrupt stopped it. All running work
   * is stopped in one pass, without a watcher fiber per piece of work.
   */
  readonly runStoppable: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: StoppableOptions
  ) => Effect.Effect<Exit.Exit<A, E>, never, R>
  /**
   * The second half of `runStoppable`, for a caller that forked `fiber` itself and found it still
   * running: registers it, stops it per the policy, and succeeds with its `Exit`.
   *
   * @internal
   */
  readonly awaitStoppable: <A, E>(
    fiber: Fiber.Fiber<A, E>,
    options?: StoppableOptions
  ) => Effect.Effect<Exit.Exit<A, E>>
  /** How many `runStoppable` fibers are running. */
  readonly runningCount: Effect.Effect<number>
}>()("agent-interrupt/ExecutionState") {
  /**
   * An execution with default options. Needs an `EventBus`.
   */
  static readonly layer: Layer.Layer<ExecutionState, never, EventBus> = Layer.effect(
    ExecutionState,
    Effect.suspend(() => make())
  )

  /**
   * An execution with options. Needs an `EventBus`.
   */
  static readonly layerWith = (options: ExecutionStateOptions): Layer.Layer<ExecutionState, never, EventBus> =>
    Layer.effect(ExecutionState, make(options))

  /**
   * An execution together with its own fresh `EventBus` and an in-memory `Journal`: what a program
   * or a test needs (`Run.run` adds a checkpoint store).
   */
  static readonly layerWithBus = (
    options: ExecutionStateOptions = {}
  ): Layer.Layer<ExecutionState | EventBus | Journal> => withBus(ExecutionState, Effect.suspend(() => make(options)))

  /**
   * `layerWithBus` with the fixed state id `test`, for tests.
   */
  static readonly layerTest: Layer.Layer<ExecutionState | EventBus | Journal> = withBus(
    ExecutionState,
    Effect.suspend(() => make({ stateId: "test" }))
  )
}

// A checkpoint's effect that `yield*` (in `Effect.gen`) takes by its outcome right now. `yield*`
// runs what the effect's `Symbol.iterator` gives it, and the generator consumes an `Exit` in place:
// on the fast path `outcome` is one (`Effect.void`, or the execution's prebuilt failure), so a
// checkpoint costs a step less than running the check. Anything else, and every other use of the
// effect (`Effect.andThen`, a pipe), runs the check itself.
const yieldingOutcome = <E, R>(
  check: Effect.Effect<void, E, R>,
  outcome: () => Effect.Effect<void, E, R> | undefined
): Effect.Effect<void, E, R> =>
  Object.defineProperty(check, Symbol.iterator, {
    value: () => new SingleShotGen(outcome() ?? check)
  })

const isPromiseLike = (u: unknown): u is PromiseLike<unknown> =>
  Predicate.hasProperty(u, "then") && typeof u.then === "function"

const decodeSignal = Schema.decodeUnknownOption(InterruptSignal)

const startNow = { startImmediately: true } as const
const succeedTrue = Effect.succeed(true)
const succeedFalse = Effect.succeed(false)

// The text of a value a user's checker produced, even when looking at it throws.
const safeMessage = (value: unknown): string => {
  try {
    return errorMessage(value)
  } catch (error) {
    try {
      return `an unreadable value (${errorMessage(error)})`
    } catch {
      return "an unreadable value"
    }
  }
}


/**
 * Builds an execution's interrupt state. Its timeout, stop and generator fibers live in the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(
  options: ExecutionStateOptions = {}
): Effect.fn.Return<ExecutionState["Service"], never, EventBus | Scope.Scope> {
  const stateId = options.stateId ?? globalThis.crypto.randomUUID()
  if (!isStateId(stateId)) {
    return yield* Effect.die(
      new Error(
        `Invalid state id ${JSON.stringify(stateId)}: ${STATE_ID_RULE}`
      )
    )
  }
  const checkerTimeout = Duration.fromInputUnsafe(options.checkerTimeout ?? "5 seconds")
  const checkerInterval = Duration.toMillis(Duration.fromInputUnsafe(options.checkerInterval ?? 0))
  const onCheckerError = options.onCheckerError ?? "continue"
  const layerPolicies = options.stopPolicy

  const bus = yield* EventBus
  const scope = yield* Effect.scope
  const current = yield* Ref.make<Interrupted | undefined>(undefined)
  const checkerRef = yield* Ref.make<InterruptChecker | undefined>(options.checker)
  const lastCheck = yield* Ref.make(Number.NEGATIVE_INFINITY)
  const generators = yield* Ref.make<ReadonlySet<Fiber.Fiber<unknown, unknown>>>(new Set())
  const interruptedDeferred = yield* Deferred.make<InterruptSignal>()
  const abortDeferred = yield* Deferred.make<InterruptSignal>()
  const timeoutHandle = yield* FiberHandle.make<void, never>()

  // `StopPolicy.resolve(reason, overrides, layerPolicies)`, without its list of layers (it runs for
  // every piece of running work a stop reaches)
  const stopPolicy = (reason: InterruptReason, overrides?: StopPolicies): StopPolicy =>
    overrides?.[reason] ?? layerPolicies?.[reason] ?? StopPolicy.defaultFor(reason)

  // Takes the registered generators and interrupts them; what is left is awaiting them, if any.
  const killGeneratorsUnsafe = (): Effect.Effect<void> | undefined => {
    const fibers = Ref.getUnsafe(generators)
    if (fibers.size === 0) return undefined
    generators.ref.current = new Set()
    return Fiber.interruptAll(fibers)
  }
  const killGenerators: Effect.Effect<void> = Effect.suspend(() => killGeneratorsUnsafe() ?? Effect.void)

  // --- running work ----------------------------------------------------------

  interface Running {
    readonly fiber: Fiber.Fiber<unknown, unknown>
    readonly options: StoppableOptions | undefined
  }
  // One mutable set owned by this execution: work registers and leaves in O(1).
  const running = yield* Ref.make(new Set<Running>())

  const stopNow = (entry: Running, signal: InterruptSignal, drained: boolean) => {
    if (drained) entry.options?.onAbort?.(signal)
    entry.fiber.interruptUnsafe()
  }

  // Stops running work per its policy; `elapsed` is how long ago the interrupt happened (ms). Work
  // due now is interrupted on the spot, synchronously (without waiting for it); what is returned, if
  // anything, starts one timer per distinct delay for the rest.
  const stopEntries = (
    entries: Iterable<Running>,
    signal: InterruptSignal,
    elapsed: number
  ): Effect.Effect<void> | undefined => {
    let later: Map<number, Array<Running>> | undefined
    for (const entry of entries) {
      const policy = stopPolicy(signal.reason, entry.options?.stopPolicy)
      if (policy._tag === "abort") entry.options?.onAbort?.(signal)
      const remaining = Duration.toMillis(StopPolicy.allowance(policy)) - elapsed
      if (remaining <= 0) {
        stopNow(entry, signal, policy._tag === "drain")
      } else {
        later ??= new Map()
        const batch = later.get(remaining)
        if (batch === undefined) later.set(remaining, [entry])
        else batch.push(entry)
      }
    }
    if (later === undefined) return undefined
    return Effect.forEach(later, ([remaining, batch]) =>
      Effect.forkIn(
        Effect.andThen(
          Effect.sleep(remaining),
          Effect.sync(() => {
            for (const entry of batch) {
              if (!Ref.getUnsafe(running).has(entry)) continue
              stopNow(entry, signal, stopPolicy(signal.reason, entry.options?.stopPolicy)._tag === "drain")
            }
          })
        ),
        scope
      ), { discard: true })
  }

  const awaitStoppable = <A, E>(fiber: Fiber.Fiber<A, E>, options?: StoppableOptions): Effect.Effect<Exit.Exit<A, E>> => {
    const entry: Running = { fiber, options }
    const awaited = Effect.withFiber((self) => {
      Ref.getUnsafe(running).add(entry)
      const interrupted = Ref.getUnsafe(current)
      if (interrupted === undefined) return Fiber.await(fiber)
      // registered during a grace period or a drain: what is left of it applies
      const elapsed = Number(self.getRef(Clock.Clock).currentTimeNanosUnsafe()) / 1e6 - interrupted.at
      const later = stopEntries([entry], interrupted.signal, elapsed)
      return later === undefined ? Fiber.await(fiber) : Effect.andThen(later, Fiber.await(fiber))
    })
    // one frame for both: the entry leaves, and a caller stopped from outside stops the work too
    return Effect.onExitPrimitive(awaited, (exit) => {
      Ref.getUnsafe(running).delete(entry)
      return Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause) ? Fiber.interrupt(fiber) : undefined
    })
  }

  const runStoppable = <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    options?: StoppableOptions
  ): Effect.Effect<Exit.Exit<A, E>, never, R> =>
    Effect.flatMap(Effect.forkChild(effect, startNow), (fiber) => {
      const done = fiber.pollUnsafe()
      return done !== undefined ? Effect.succeed(done) : awaitStoppable(fiber, options)
    })

  // The abort: `awaitAbort` wakes, generators die (what is left to run, if any).
  const abortUnsafe = (signal: InterruptSignal): Effect.Effect<void> | undefined => {
    Deferred.doneUnsafe(abortDeferred, Exit.succeed(signal))
    return killGeneratorsUnsafe()
  }

  // The first interrupt wins. Claiming it, announcing it and stopping what runs happen in one
  // synchronous pass (a stop's latency is this pass), in this order: the record (checkpoints fail
  // from here on), the `onInterrupt` hook (the run journals the interrupt), the `InterruptEvent`, the
  // waiters of `awaitInterrupt`, the running work due now, then the abort. What is left (timers,
  // generators to await) runs uninterruptibly after it.
  const interruptWith = (signal: InterruptSignal, via?: string | undefined): Effect.Effect<boolean> =>
    Effect.uninterruptible(Effect.withFiber((fiber) => claim(fiber, signal, via)))

  // The claim itself, on the requesting fiber, made uninterruptible by the caller: a stop that
  // reaches that very fiber (a handler stopping its own execution) waits until what is left is done.
  const claim = (
    fiber: Fiber.Fiber<unknown, unknown>,
    signal: InterruptSignal,
    via: string | undefined
  ): Effect.Effect<boolean> => {
    if (Ref.getUnsafe(current) !== undefined) return succeedFalse
    const clock = fiber.getRef(Clock.Clock)
    const at = Number(clock.currentTimeNanosUnsafe()) / 1e6
    current.ref.current = {
      signal,
      failure: Effect.fail(ExecutionInterrupted.fromSignal(signal)),
      at,
      monotonicAt: Number(clock.monotonicTimeNanosUnsafe()) / 1e6
    }
    const announce = (): Effect.Effect<boolean> => {
      const event = new InterruptEvent(
        via === undefined ? { signal, stateId, at: isoOf(at) } : { signal, stateId, at: isoOf(at), via },
        { disableChecks: true }
      )
      const warning = bus.publishUnsafe(event)
      Deferred.doneUnsafe(interruptedDeferred, Exit.succeed(signal))
      const timers = stopEntries(Array.from(Ref.getUnsafe(running)), signal, 0)
      const allowance = StopPolicy.allowance(stopPolicy(signal.reason))
      const rest = Duration.isZero(allowance)
        ? abortUnsafe(signal)
        : Effect.asVoid(Effect.forkIn(Effect.andThen(Effect.sleep(allowance), abort(signal)), scope, startNow))
      if (warning === undefined && timers === undefined && rest === undefined) return succeedTrue
      return Effect.as(Effect.all([warning ?? Effect.void, timers ?? Effect.void, rest ?? Effect.void]), true)
    }
    return options.onInterrupt === undefined
      ? announce()
      : Effect.andThen(options.onInterrupt(signal), Effect.suspend(announce))
  }

  const abort = (signal: InterruptSignal): Effect.Effect<void> => Effect.suspend(() => abortUnsafe(signal) ?? Effect.void)

  const requestInterrupt = (
    request: RequestInterruptOptions | InterruptSignal = {},
    delivery?: { readonly via?: string | undefined }
  ): Effect.Effect<boolean> =>
    Effect.uninterruptible(Effect.withFiber((fiber) => {
      if (Ref.getUnsafe(current) !== undefined) return succeedFalse
      if (request instanceof InterruptSignal) return claim(fiber, request, delivery?.via)
      return claim(
        fiber,
        new InterruptSignal({
          reason: request.reason ?? "user_cancelled",
          triggeredAt: isoOf(fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()),
          saveCheckpoint: request.saveCheckpoint ?? true,
          ...(request.message === undefined ? {} : { message: request.message }),
          ...(request.triggeredBy === undefined ? {} : { triggeredBy: request.triggeredBy })
        }, {
          // the types of the caller's fields are still checked; what is skipped is the pattern of
          // `triggeredAt`, made here (a stop's latency counts every step of this request)
          disableChecks: true
        }),
        delivery?.via
      )
    }))

  // --- the checker -----------------------------------------------------------

  const checkerError = (kind: InterruptCheckerError["kind"], cause: unknown) =>
    new InterruptCheckerError({ kind, detail: safeMessage(cause), cause })

  // What the checker answered, once it has answered: carry on, interrupt, or handle a bad value.
  // Reading the answer may itself throw (a Proxy, a getter): that is a checker error like the others.
  const settle = (answer: unknown): Effect.Effect<void, ExecutionInterrupted> => {
    try {
      if (answer === false || answer === null || answer === undefined) return Effect.void
      const already = Ref.getUnsafe(current)
      // Someone else interrupted while the checker ran: their signal wins.
      if (already !== undefined) return already.failure
      if (answer === true) {
        return Effect.flatMap(Clock.currentTimeMillis, (now) => interruptAndFail(externalCheckerSignal(isoOf(now))))
      }
      if (answer instanceof InterruptSignal) return interruptAndFail(answer)
      const decoded = decodeSignal(answer)
      return Option.isSome(decoded)
        ? interruptAndFail(decoded.value)
        : onCheckerFailure(new InterruptCheckerError({ kind: "bad_value", detail: safeMessage(answer) }))
    } catch (cause) {
      return onCheckerFailure(checkerError("bad_value", `reading it threw: ${safeMessage(cause)}`))
    }
  }

  const interruptAndFail = (signal: InterruptSignal): Effect.Effect<never, ExecutionInterrupted> =>
    Effect.flatMap(interruptWith(signal), () => Ref.getUnsafe(current)!.failure)

  // A checker answering later (a Promise or an Effect): one call at a time. The checkpoint that
  // starts a call waits for its answer (up to `checkerTimeout`) while the checker answers in time;
  // once a call timed out, checkpoints no longer wait (the answer, should it come, still applies),
  // and a circuit breaker keeps the checker from being called again for a while (1 s, doubling up to
  // 1 min). A stop never waits for any of it.
  let pending: Fiber.Fiber<void, ExecutionInterrupted> | undefined
  let answersInTime = true
  let answersLater = false
  let checkerGeneration = 0
  let breaker: CircuitBreaker.CircuitBreaker | undefined
  const getBreaker: Effect.Effect<CircuitBreaker.CircuitBreaker> = Effect.suspend(() =>
    breaker !== undefined
      ? Effect.succeed(breaker)
      : CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(1),
        openDuration: Schedule.exponential("1 second"),
        maxOpenDuration: "1 minute"
      }).pipe(
        Effect.provide(CircuitBreaker.layerStoreMemory()),
        Scope.provide(scope),
        Effect.tap((made) => Effect.sync(() => void (breaker = made)))
      )
  )
  const isTimeout = (exit: Exit.Exit<unknown, InterruptCheckerError>) =>
    Exit.isFailure(exit) && Option.getOrUndefined(Cause.findErrorOption(exit.cause))?.kind === "timed_out"

  // Turns whatever the checker returned into an effect of its answer.
  const answerOf = (raw: ReturnType<InterruptChecker>): Effect.Effect<unknown, InterruptCheckerError> =>
    Effect.isEffect(raw)
      ? Effect.catchCause(raw, (cause) => Effect.fail(checkerError("failed", Cause.squash(cause))))
      : isPromiseLike(raw)
      ? Effect.tryPromise({ try: () => Promise.resolve(raw), catch: (cause) => checkerError("rejected", cause) })
      : Effect.succeed(raw)

  // `call` calls the checker (or hands over the answer of the call just made): through the breaker,
  // so that while it backs off the checker is not called at all.
  const awaitAnswer = (call: () => ReturnType<InterruptChecker>): Effect.Effect<void, ExecutionInterrupted> =>
    Effect.gen(function*() {
      const guard = yield* getBreaker
      const applied: Effect.Effect<void, ExecutionInterrupted> = Effect.suspend(() => {
        let raw: ReturnType<InterruptChecker>
        try {
          raw = call()
        } catch (cause) {
          return Effect.fail(checkerError("threw", cause))
        }
        return answerOf(raw)
      }).pipe(
        Effect.timeoutOrElse({
          duration: checkerTimeout,
          orElse: () =>
            Effect.fail(new InterruptCheckerError({ kind: "timed_out", detail: Duration.format(checkerTimeout) }))
        }),
        guard.execute({
          key: `checker-${checkerGeneration}`,
          classify: (exit) => isTimeout(exit) ? CircuitBreaker.failure() : CircuitBreaker.success
        }),
        Effect.matchEffect({
          onFailure: (error) => {
            // backing off after a timeout: the checker was not called
            if (error._tag === "CircuitBreakerError") return Effect.void
            if (error.kind === "timed_out") answersInTime = false
            const already = Ref.getUnsafe(current)
            return already !== undefined ? already.failure : onCheckerFailure(error)
          },
          onSuccess: (value) => Effect.andThen(Effect.sync(() => void (answersInTime = true)), settle(value))
        }),
        Effect.ensuring(Effect.sync(() => void (pending = undefined)))
      )
      const fiber = yield* Effect.forkIn(applied, scope, { startImmediately: true })
      if (fiber.pollUnsafe() !== undefined) return yield* Fiber.join(fiber)
      pending = fiber
      if (answersInTime) yield* Fiber.join(fiber)
    })

  const onCheckerFailure = (error: InterruptCheckerError): Effect.Effect<void, ExecutionInterrupted> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      yield* Effect.logWarning(error.message, error).pipe(
        Effect.annotateLogs({ module: "agent-interrupt/ExecutionState", stateId })
      )
      yield* bus.publish({
        _tag: "LogEvent",
        stateId,
        level: "warning",
        message: error.message,
        timestamp: isoOf(now)
      })
      if (onCheckerError === "interrupt") {
        return yield* interruptAndFail(
          new InterruptSignal({
            reason: "error_threshold",
            message: error.message,
            triggeredBy: "interrupt_checker",
            triggeredAt: isoOf(now)
          })
        )
      }
    })

  // A synchronous checker is called and settled without leaving the current step.
  const runChecker: Effect.Effect<void, ExecutionInterrupted> = Effect.withFiber((fiber) => {
    const checker = Ref.getUnsafe(checkerRef)
    if (checker === undefined) return Effect.void
    if (checkerInterval > 0) {
      const now = fiber.getRef(Clock.Clock).currentTimeMillisUnsafe()
      if (now - Ref.getUnsafe(lastCheck) < checkerInterval) return Effect.void
      lastCheck.ref.current = now
    }
    let answer: ReturnType<InterruptChecker>
    // an answer of an earlier call is still on its way: not called again, not waited for
    if (pending !== undefined) return Effect.void
    // a checker that answers later is called through the breaker from then on
    if (answersLater) return awaitAnswer(checker)
    try {
      answer = checker()
      if (Effect.isEffect(answer) || isPromiseLike(answer)) {
        answersLater = true
        const first = answer
        return awaitAnswer(() => first)
      }
    } catch (cause) {
      return onCheckerFailure(checkerError("threw", cause))
    }
    return settle(answer)
  })

  // The fast path reads the flag and returns a prebuilt effect: nothing is allocated.
  const checkInterruptUnsafe = (): Effect.Effect<void, ExecutionInterrupted> => {
    const interrupted = Ref.getUnsafe(current)
    if (interrupted !== undefined) return interrupted.failure
    return Ref.getUnsafe(checkerRef) === undefined ? Effect.void : runChecker
  }
  const checkInterrupt: Effect.Effect<void, ExecutionInterrupted> = yieldingOutcome(
    Effect.suspend(checkInterruptUnsafe),
    checkInterruptUnsafe
  )

  // --- timeout ---------------------------------------------------------------

  const awaitInterrupt = Deferred.await(interruptedDeferred)

  const setTimeout = (duration: Duration.Input, message?: string): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (Ref.getUnsafe(current) !== undefined) return Effect.void
      const d = Duration.fromInputUnsafe(duration)
      const text = message ?? `Execution exceeded ${formatSeconds(d)}s timeout`
      const fire = Effect.flatMap(Clock.currentTimeMillis, (now) =>
        interruptWith(
          new InterruptSignal({
            reason: "timeout",
            message: text,
            triggeredBy: "timeout_monitor",
            triggeredAt: isoOf(now)
          })
        ))
      // The timer also ends when anything else interrupts first, so it never outlives the interrupt.
      return FiberHandle.run(
        timeoutHandle,
        Effect.raceFirst(Effect.asVoid(Effect.andThen(Effect.sleep(d), fire)), Effect.asVoid(awaitInterrupt))
      ).pipe(Effect.asVoid)
    })

  // --- generators ------------------------------------------------------------

  const registerGenerator = (fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (Deferred.isDoneUnsafe(abortDeferred)) return Fiber.interrupt(fiber)
      return Ref.update(generators, (set) => new Set(set).add(fiber))
    })

  const unregisterGenerator = (fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<void> =>
    Ref.update(generators, (set) => {
      if (!set.has(fiber)) return set
      const next = new Set(set)
      next.delete(fiber)
      return next
    })

  if (options.timeout !== undefined) yield* setTimeout(options.timeout)

  return ExecutionState.of({
    stateId,
    requestInterrupt,
    setInterruptChecker: (checker) =>
      Effect.andThen(
        Effect.sync(() => {
          // a new checker starts trusted, with a circuit of its own
          answersLater = false
          answersInTime = true
          checkerGeneration++
        }),
        Ref.set(checkerRef, checker)
      ),
    checkInterrupt,
    checkInterruptUnsafe,
    isInterrupted: Effect.sync(() => Ref.getUnsafe(current) !== undefined),
    interruptSignal: Effect.sync(() => Option.fromUndefinedOr(Ref.getUnsafe(current)?.signal)),
    interruptedAt: Effect.sync(() => Option.fromUndefinedOr(Ref.getUnsafe(current)?.at)),
    currentInterrupt: () => Ref.getUnsafe(current),
    awaitInterrupt,
    awaitAbort: Deferred.await(abortDeferred),
    stopPolicy,
    setTimeout,
    cancelTimeout: FiberHandle.clear(timeoutHandle),
    registerGenerator,
    unregisterGenerator,
    killGenerators,
    generatorCount: Effect.map(Ref.get(generators), (set) => set.size),
    runStoppable,
    awaitStoppable,
    runningCount: Effect.sync(() => Ref.getUnsafe(running).size)
  })
})

// -----------------------------------------------------------------------------
// Accessors
// -----------------------------------------------------------------------------

/**
 * A checkpoint of the current execution: fails with `ExecutionInterrupted` once it is interrupted.
 *
 * **Example** (A loop that stops at the next batch)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { checkInterrupt } from "agent-interrupt"
 *
 * const processAll = (batches: ReadonlyArray<number>) =>
 *   Effect.forEach(batches, (batch) => Effect.andThen(checkInterrupt, Effect.succeed(batch * 2)))
 * ```
 *
 * @category accessors
 * @since 0.1.0
 */
export const checkInterrupt: Effect.Effect<void, ExecutionInterrupted, ExecutionState> = yieldingOutcome(
  Effect.withFiber((fiber) => {
    // A direct map lookup keeps the hot path at one step; Context.get only to report a missing service.
    const state = fiber.context.mapUnsafe.get(ExecutionState.key) as ExecutionState["Service"] | undefined
    return (state ?? Context.get(fiber.context as Context.Context<ExecutionState>, ExecutionState))
      .checkInterruptUnsafe()
  }),
  () => {
    const state = Fiber.getCurrent()?.context.mapUnsafe.get(ExecutionState.key) as ExecutionState["Service"] | undefined
    return state?.checkInterruptUnsafe()
  }
)

/**
 * Interrupts the current execution (first request wins); `true` when this request won.
 *
 * @category accessors
 * @since 0.1.0
 */
export const requestInterrupt = (
  options?: RequestInterruptOptions | InterruptSignal
): Effect.Effect<boolean, never, ExecutionState> => ExecutionState.use((s) => s.requestInterrupt(options))

/**
 * Whether the current execution is interrupted.
 *
 * @category accessors
 * @since 0.1.0
 */
export const isInterrupted: Effect.Effect<boolean, never, ExecutionState> = ExecutionState.use((s) => s.isInterrupted)

/**
 * The winning interrupt signal of the current execution, if any.
 *
 * @category accessors
 * @since 0.1.0
 */
export const interruptSignal: Effect.Effect<Option.Option<InterruptSignal>, never, ExecutionState> = ExecutionState
  .use((s) => s.interruptSignal)

/**
 * Waits for the current execution's interrupt and returns its signal.
 *
 * @category accessors
 * @since 0.1.0
 */
export const awaitInterrupt: Effect.Effect<InterruptSignal, never, ExecutionState> = ExecutionState.use((s) =>
  s.awaitInterrupt
)

/**
 * Installs (or removes) the external checker of the current execution.
 *
 * @category accessors
 * @since 0.1.0
 */
export const setInterruptChecker = (
  checker: InterruptChecker | undefined
): Effect.Effect<void, never, ExecutionState> => ExecutionState.use((s) => s.setInterruptChecker(checker))

/**
 * Interrupts the current execution with reason `timeout` after `duration` (replacing a pending one).
 *
 * @category accessors
 * @since 0.1.0
 */
export const setTimeout = (
  duration: Duration.Input,
  message?: string
): Effect.Effect<void, never, ExecutionState> => ExecutionState.use((s) => s.setTimeout(duration, message))

/**
 * Cancels the current execution's pending timeout.
 *
 * @category accessors
 * @since 0.1.0
 */
export const cancelTimeout: Effect.Effect<void, never, ExecutionState> = ExecutionState.use((s) => s.cancelTimeout)

/**
 * Registers a generator fiber with the current execution.
 *
 * @category accessors
 * @since 0.1.0
 */
export const registerGenerator = (fiber: Fiber.Fiber<unknown, unknown>): Effect.Effect<void, never, ExecutionState> =>
  ExecutionState.use((s) => s.registerGenerator(fiber))

/**
 * Unregisters a generator fiber from the current execution.
 *
 * @category accessors
 * @since 0.1.0
 */
export const unregisterGenerator = (
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<void, never, ExecutionState> => ExecutionState.use((s) => s.unregisterGenerator(fiber))

/**
 * Interrupts every registered generator fiber of the current execution.
 *
 * @category accessors
 * @since 0.1.0
 */
export const killGenerators: Effect.Effect<void, never, ExecutionState> = ExecutionState.use((s) => s.killGenerators)
