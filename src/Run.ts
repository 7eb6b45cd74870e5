/**
 * Running a whole program as an execution, and resuming one from its journal.
 *
 * `run(program, options)` gives the program a fresh execution (state, bus and journal), holds its
 * lease, journals it as it goes — with `sync` durability (the default) every completed step is in the
 * store before anyone sees it — and returns its outcome: completed (value), interrupted (signal,
 * checkpoint id) or failed (cause). `resume(stateId, program)` continues an execution from its
 * journal: the completed steps of every earlier attempt are replayed, everything else runs for real.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, type Duration, Effect, Exit, Fiber, Option, Schema, type Scope } from "effect"
import { CheckpointError, CheckpointStore } from "./Checkpoint.ts"
import { errorMessage } from "./Event.ts"
import * as EventBus from "./EventBus.ts"
import { ExecutionState, type ExecutionStateOptions, make as makeState } from "./ExecutionState.ts"
import { currentPid } from "./internal/process.ts"
import { isoOf } from "./internal/time.ts"
import { type InterruptSignal, isStateId, STATE_ID_RULE } from "./Interrupt.ts"
import {
  type Durability,
  fold,
  Journal,
  type JournalRecord,
  make as makeJournal,
  type OfferedAnswer,
  type RunFinished,
  type StateSnapshot
} from "./Journal.ts"
import type { InputRequest } from "./EventBus.ts"
import * as Workflow from "./Workflow.ts"

// -----------------------------------------------------------------------------
// Models
// -----------------------------------------------------------------------------

/**
 * The program completed with a value.
 *
 * @category models
 * @since 0.1.0
 */
export interface Completed<A> {
  readonly _tag: "Completed"
  readonly stateId: string
  readonly value: A
}

/**
 * The program was interrupted; `checkpointId` is set when its journal was saved (resume with it).
 *
 * @category models
 * @since 0.1.0
 */
export interface Interrupted {
  readonly _tag: "Interrupted"
  readonly stateId: string
  readonly signal: InterruptSignal
  readonly checkpointId: Option.Option<string>
}

/**
 * The program failed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Failed<E> {
  readonly _tag: "Failed"
  readonly stateId: string
  readonly cause: Cause.Cause<E>
}

/**
 * The run was parked while its steps waited for a person (`inputs`): nothing runs until an answer
 * comes; the answer resumes it (`Run.resume` with `answers`, or `Executions.answer`).
 *
 * @category models
 * @since 0.2.0
 */
export interface Awaiting {
  readonly _tag: "Awaiting"
  readonly stateId: string
  readonly inputs: ReadonlyArray<InputRequest>
}

/**
 * How a run ended.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome<A, E> = Completed<A> | Interrupted | Failed<E> | Awaiting

/**
 * What a run hands to `onStart`: its interrupt state, its bus and its journal.
 *
 * @category models
 * @since 0.2.0
 */
export interface RunningExecution {
  readonly state: ExecutionState["Service"]
  readonly bus: EventBus.EventBus["Service"]
  readonly journal: Journal["Service"]
  /**
   * Parks the run if a step waits for a person: its steps stop (to run again on resume), the attempt
   * ends `awaiting` with its journal saved and its lease released. `false` (and nothing changes) when
   * no step waits.
   */
  readonly park: Effect.Effect<boolean>
}

/**
 * Options of {@link run} and {@link resume}: the execution's options plus what the run records, how
 * durably, and who watches it.
 *
 * **Details**
 *
 * - `workflow`, `input`, `startedBy`: recorded in the journal (so a resume knows what to run).
 * - `expectedSteps`: how many steps the program usually takes, for progress bars (on `ExecutionStarted`).
 * - `durability`: `sync` (default: every completed step is stored before its `completed` event is
 *   published and its caller goes on), `async` (stored in order in the background) or `exit` (once,
 *   at the end). `saveEvery` is the 0.1 name: `"event"` is `sync`, `"interrupt"` is `exit`.
 * - `owner`: who holds the execution's lease (default `pid-<pid>-<random>`).
 * - `force`: `run` starts over an existing execution of that id (its journal is deleted); `resume`
 *   takes over one whose owner is still alive. Default `false`: both are refused (`exists`, `owned`).
 * - `flushTimeout`: how long the end of the run waits for an unavailable store (default 10 seconds).
 * - `bufferSize`: how many records may wait for an unavailable store (default 10,000).
 * - `historyLimit`: the bus's retained history (default 10,000); `bus`: run on this bus instead of a
 *   new one (its sequence numbers go on: a control plane keeps one bus across resumes).
 * - `subscribers`: bus handlers attached before the program starts (a printer, an NDJSON writer).
 * - `onStart`: runs once the execution exists, before the program (install a signal handler, a
 *   remote interrupt listener); it lives as long as the run.
 * - `answers`: (resume) answers to questions an earlier attempt asked; each is checked and journaled
 *   when its step asks again.
 *
 * @category options
 * @since 0.1.0
 */
export interface RunOptions extends Omit<ExecutionStateOptions, "onInterrupt"> {
  readonly workflow?: string | undefined
  readonly input?: Schema.Json | undefined
  readonly startedBy?: string | undefined
  readonly expectedSteps?: number | undefined
  readonly historyLimit?: number | undefined
  readonly durability?: Durability | undefined
  readonly saveEvery?: "interrupt" | "event" | undefined
  readonly owner?: string | undefined
  readonly force?: boolean | undefined
  readonly flushTimeout?: Duration.Input | undefined
  readonly bufferSize?: number | undefined
  readonly answers?: ReadonlyArray<OfferedAnswer> | undefined
  readonly bus?: EventBus.EventBus["Service"] | undefined
  readonly subscribers?: ReadonlyArray<(event: EventBus.BusEvent) => Effect.Effect<void, unknown>> | undefined
  readonly onStart?: ((execution: RunningExecution) => Effect.Effect<void, never, Scope.Scope>) | undefined
}

/**
 * A new owner id for a lease: this process and a random part.
 *
 * @category constructors
 * @since 0.2.0
 */
export const makeOwner = (): string => `pid-${currentPid()}-${globalThis.crypto.randomUUID().slice(0, 8)}`

// A journal longer than this is compacted when it is resumed.
const COMPACT_AFTER = 1_000

const isJson = Schema.is(Schema.Json)

/**
 * Saves the current execution's journal now: waits until every record so far is in the store, and
 * returns the checkpoint id (the state id). Fails when the store is unavailable (or there is none).
 *
 * @category accessors
 * @since 0.1.0
 */
export const saveCheckpoint: Effect.Effect<string, CheckpointError, Journal> = Effect.gen(function*() {
  const journal = yield* Journal
  const flushed = yield* journal.flush
  if (flushed._tag === "Saved") return journal.stateId
  return yield* new CheckpointError({ reason: "io", stateId: journal.stateId, detail: flushed.detail })
}).pipe(Effect.uninterruptible)

// -----------------------------------------------------------------------------
// run / resume
// -----------------------------------------------------------------------------

type Resuming = { readonly resume: true } | { readonly resume: false }

const runWith = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: RunOptions,
  mode: Resuming
): Effect.Effect<Outcome<A, E>, CheckpointError, Exclude<R, ExecutionState | EventBus.EventBus | Journal>> =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* Effect.serviceOption(CheckpointStore)
    const {
      answers,
      bufferSize,
      bus: givenBus,
      durability: durabilityOption,
      flushTimeout,
      force,
      expectedSteps,
      historyLimit,
      input,
      onStart,
      startedBy,
      owner: ownerOption,
      saveEvery,
      subscribers,
      workflow,
      ...stateOptions
    } = options
    const stateId = stateOptions.stateId ?? globalThis.crypto.randomUUID()
    if (!isStateId(stateId)) {
      return yield* new CheckpointError({ reason: "invalid_state_id", stateId, detail: STATE_ID_RULE })
    }
    const durability: Durability = durabilityOption ?? (saveEvery === "interrupt" ? "exit" : "sync")
    const owner = ownerOption ?? makeOwner()

    // The lease first: from here on this process is the execution's only writer.
    let prior: StateSnapshot | undefined
    if (Option.isSome(store)) {
      const s = store.value
      if (!mode.resume) {
        const existing = yield* s.load(stateId)
        if (Option.isSome(existing)) {
          if (force !== true) {
            return yield* new CheckpointError({
              reason: existing.value.status === "running" || existing.value.status === "cancelling" ? "owned" : "exists",
              stateId,
              location: s.location,
              detail: existing.value.status === "running" || existing.value.status === "cancelling"
                ? Option.match(yield* s.lease(stateId), { onNone: () => "another process", onSome: (l) => l.owner })
                : existing.value.status
            })
          }
          yield* s.delete(stateId)
        }
        yield* s.acquire(stateId, { owner, force })
      } else {
        yield* s.acquire(stateId, { owner, force })
        // read again under the lease: a resume that won a race may have moved it on meanwhile
        const records = yield* s.read(stateId)
        if (Option.isNone(records)) {
          return yield* new CheckpointError({ reason: "not_found", stateId, location: s.location, detail: "" })
        }
        prior = fold(stateId, records.value)
        yield* checkResumable(prior, s.location)
        if (records.value.length > COMPACT_AFTER) yield* s.compact(stateId)
      }
    }

    const bus = givenBus ?? (yield* EventBus.make({ historyLimit }))
    const journal = yield* makeJournal({
      stateId,
      durability,
      sink: Option.isSome(store) ? (records: ReadonlyArray<JournalRecord>) => store.value.append(stateId, records) : undefined,
      restore: prior,
      bufferSize,
      flushTimeout,
      offers: answers
    }).pipe(Effect.provideService(EventBus.EventBus, bus))
    const state = yield* makeState({
      ...stateOptions,
      stateId,
      // journaled the moment it happens, ahead of whatever the run records after it
      onInterrupt: (signal) => journal.appendLater({ _tag: "RunInterrupted", signal, timestamp: signal.triggeredAt })
    }).pipe(Effect.provideService(EventBus.EventBus, bus))
    const context = Context.make(EventBus.EventBus, bus).pipe(
      Context.add(ExecutionState, state),
      Context.add(Journal, journal)
    )

    const startedAt = isoOf(yield* Clock.currentTimeMillis)
    const attempt = (prior?.attempts ?? 0) + 1
    const known = {
      ...(workflow === undefined ? {} : { workflow }),
      ...(input === undefined ? {} : { input }),
      ...(startedBy === undefined ? {} : { startedBy })
    }
    yield* journal.append({ _tag: "RunStarted", stateId, attempt, timestamp: startedAt, owner, ...known })
    yield* bus.publish({
      _tag: "ExecutionStarted",
      stateId,
      attempt,
      timestamp: startedAt,
      owner,
      ...known,
      ...(prior === undefined ? {} : { recoverable: prior.completed.length }),
      ...(expectedSteps === undefined ? {} : { expectedSteps })
    })

    for (const subscriber of subscribers ?? []) yield* bus.subscribe(subscriber)

    // The program runs in its own fiber, so that parking can stop it without an interrupt.
    let programFiber: Fiber.Fiber<A, E> | undefined
    const park = Effect.suspend(() => {
      if (programFiber === undefined || journal.pendingInputs().length === 0 || journal.parking) {
        return Effect.succeed(false)
      }
      journal.park()
      return Effect.as(Fiber.interrupt(programFiber), true)
    })
    if (onStart !== undefined) yield* onStart({ state, bus, journal, park })

    // The end of the run: classify, journal the end (the last record), wait until it is stored,
    // announce it.
    const finish = (exit: Exit.Exit<A, E>): Effect.Effect<Outcome<A, E>> =>
      Effect.gen(function*() {
        const signal = yield* state.interruptSignal
        const now = isoOf(yield* Clock.currentTimeMillis)
        let end: RunFinished
        if (journal.parking && Option.isNone(signal)) {
          end = { _tag: "RunFinished", status: "awaiting", timestamp: now }
        } else if (Exit.isSuccess(exit)) {
          end = {
            _tag: "RunFinished",
            status: "completed",
            timestamp: now,
            ...(isJson(exit.value) ? { result: exit.value } : {})
          }
        } else if (Option.isSome(signal)) {
          end = {
            _tag: "RunFinished",
            status: "interrupted",
            timestamp: now,
            ...(signal.value.saveCheckpoint ? {} : { resumable: false })
          }
        } else {
          const error = Cause.findErrorOption(exit.cause)
          end = {
            _tag: "RunFinished",
            status: "failed",
            timestamp: now,
            error: Option.isSome(error) ? errorMessage(error.value) : errorMessage(Cause.squash(exit.cause))
          }
        }
        const keep = end.resumable !== false
        let checkpoint: EventBus.CheckpointOutcome = "not_saved"
        let detail: string | undefined
        yield* journal.append(end)
        if (Option.isSome(store) && (keep || durability !== "exit")) {
          const flushed = yield* journal.flush
          if (flushed._tag === "Saved") checkpoint = keep ? "saved" : "not_saved"
          else {
            checkpoint = "failed"
            detail = flushed.detail
            yield* Effect.logError(`Checkpoint could not be saved: ${flushed.detail}`).pipe(
              Effect.annotateLogs({ module: "agent-interrupt/Run", stateId })
            )
          }
        }
        const outcome: Outcome<A, E> = end.status === "awaiting"
          ? { _tag: "Awaiting", stateId, inputs: journal.pendingInputs() }
          : Exit.isSuccess(exit)
          ? { _tag: "Completed", stateId, value: exit.value }
          : Option.isSome(signal)
          ? {
            _tag: "Interrupted",
            stateId,
            signal: signal.value,
            checkpointId: checkpoint === "saved" ? Option.some(stateId) : Option.none()
          }
          : { _tag: "Failed", stateId, cause: exit.cause }
        yield* bus.publish({
          _tag: "ExecutionFinished",
          stateId,
          status: end.status,
          timestamp: now,
          checkpoint,
          ...(Option.isSome(signal) ? { signal: signal.value } : {}),
          ...(checkpoint === "saved" ? { checkpointId: stateId } : {}),
          ...(detail === undefined ? {} : { checkpointDetail: detail }),
          ...(end.error === undefined ? {} : { detail: end.error }),
          ...(end.result === undefined ? {} : { result: end.result })
        })
        return outcome
      }).pipe(Effect.uninterruptible)

    // If the run itself is interrupted (the runtime shutting down), that is an interrupt like any
    // other: requested, journaled, announced.
    // The program is stoppable work: the interrupt ends it per the stop policy, wherever it is.
    programFiber = yield* Effect.flatten(state.runStoppable(program)).pipe(
      Effect.provideContext(context),
      Effect.forkChild({ startImmediately: true })
    )
    const exit = yield* Fiber.await(programFiber).pipe(
      Effect.onInterrupt(() =>
        state.requestInterrupt({ reason: "system_shutdown", triggeredBy: "runtime" }).pipe(
          Effect.andThen(finish(Exit.interrupt())),
          Effect.asVoid
        )
      )
    )
    return yield* finish(exit as Exit.Exit<A, E>)
  })) as Effect.Effect<Outcome<A, E>, CheckpointError, Exclude<R, ExecutionState | EventBus.EventBus | Journal>>

/**
 * Runs a program as a fresh execution and returns its outcome. With a `CheckpointStore` in context it
 * holds the execution's lease, journals every step (per `durability`) and ends the journal with the
 * run's status; without one, nothing is stored. Fails with `CheckpointError` when an execution of
 * that id exists already (`exists`; `force` starts over) or runs elsewhere (`owned`).
 *
 * **Example** (Run, interrupted by a timeout)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { checkInterrupt, CheckpointStore, Run } from "agent-interrupt"
 *
 * const program = Effect.forever(Effect.andThen(checkInterrupt, Effect.sleep("100 millis")))
 * const outcome = Run.run(program, { timeout: "1 second" }).pipe(Effect.provide(CheckpointStore.layerMemory))
 * // => { _tag: "Interrupted", signal: { reason: "timeout", ... }, checkpointId: Option.some(stateId) }
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const run = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: RunOptions = {}
): Effect.Effect<Outcome<A, E>, CheckpointError, Exclude<R, ExecutionState | EventBus.EventBus | Journal>> =>
  runWith(program, options, { resume: false })

/**
 * Resumes an execution from its journal: same state id, the completed steps of every earlier attempt
 * replayed (`recovered`), everything else run for real with the same idempotency keys. `program` may
 * be a function of the journal's state (to read the workflow's input from it). Fails with
 * `CheckpointError` for an unknown id (`not_found`), a completed run or one interrupted without a
 * checkpoint (`not_resumable`), a run still alive elsewhere (`owned`, unless `force`), a corrupt or
 * newer journal.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resume = <A, E, R>(
  stateId: string,
  program: Effect.Effect<A, E, R> | ((snapshot: StateSnapshot) => Effect.Effect<A, E, R>),
  options: Omit<RunOptions, "stateId"> = {}
): Effect.Effect<
  Outcome<A, E>,
  CheckpointError,
  Exclude<R, ExecutionState | EventBus.EventBus | Journal> | CheckpointStore
> =>
  Effect.gen(function*() {
    const snap = yield* loadResumable(stateId, { force: options.force })
    const effect = typeof program === "function" ? program(snap) : program
    return yield* runWith(effect, {
      ...options,
      stateId,
      workflow: options.workflow ?? snap.metadata.workflow,
      input: options.input ?? snap.metadata.input,
      startedBy: options.startedBy ?? snap.metadata.startedBy
    }, { resume: true })
  })

const checkResumable = (snap: StateSnapshot, location: string): Effect.Effect<void, CheckpointError> => {
  if (snap.status === "completed") {
    return Effect.fail(
      new CheckpointError({
        reason: "not_resumable",
        stateId: snap.stateId,
        location,
        detail: `it already completed at ${snap.updatedAt}`
      })
    )
  }
  if (!snap.resumable) {
    return Effect.fail(
      new CheckpointError({
        reason: "not_resumable",
        stateId: snap.stateId,
        location,
        detail: "it was interrupted with saveCheckpoint: false, so nothing was kept to resume from"
      })
    )
  }
  return Effect.void
}

/**
 * Loads the state a resume starts from: `not_found` when there is no journal, `not_resumable` when
 * the run completed (or was interrupted asking for no checkpoint), `owned` while its owner is alive
 * (unless `force`), and the store's errors for a corrupt or newer journal. A `lost` run is resumable.
 *
 * @category constructors
 * @since 0.1.0
 */
export const loadResumable = (
  stateId: string,
  options: { readonly force?: boolean | undefined } = {}
): Effect.Effect<StateSnapshot, CheckpointError, CheckpointStore> =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    const found = yield* store.load(stateId)
    if (Option.isNone(found)) {
      return yield* new CheckpointError({ reason: "not_found", stateId, location: store.location, detail: "" })
    }
    const snap = found.value
    yield* checkResumable(snap, store.location)
    if ((snap.status === "running" || snap.status === "cancelling") && options.force !== true) {
      const lease = yield* store.lease(stateId)
      return yield* new CheckpointError({
        reason: "owned",
        stateId,
        location: store.location,
        detail: Option.match(lease, { onNone: () => "another process", onSome: (l) => l.owner })
      })
    }
    return snap
  })

export const workflowOf = (
  workflows: ReadonlyArray<Workflow.Registered>,
  snapshot: StateSnapshot
): Effect.Effect<
  { readonly workflow: Workflow.Registered } & Effect.Success<ReturnType<Workflow.Registered["prepare"]>>,
  CheckpointError | Workflow.UnknownWorkflow | Workflow.InvalidWorkflowInput
> =>
  Effect.gen(function*() {
    const name = snapshot.metadata.workflow
    if (name === undefined) {
      return yield* new CheckpointError({
        reason: "corrupt",
        stateId: snapshot.stateId,
        detail: "it does not say which workflow it ran"
      })
    }
    const workflow = yield* Workflow.find(workflows, name)
    const prepared = yield* workflow.prepare(snapshot.metadata.input)
    return { workflow, ...prepared }
  })
