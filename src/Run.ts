/**
 * Running a whole program as an execution, and resuming one from its checkpoint.
 *
 * `run(program, options)` gives the program a fresh execution (state and bus), runs it, and returns
 * its outcome — completed (value), interrupted (signal, checkpoint id) or failed (cause) — after
 * writing the final snapshot to the `CheckpointStore`, when one is provided. `resume(stateId, program)`
 * builds the execution from a stored snapshot: completed events are replayed, everything else runs
 * for real.
 *
 * @since 0.1.0
 */
import { Cause, Context, Effect, Exit, Layer, Option, type Schema, type Scope, Semaphore } from "effect"
import {
  CheckpointError,
  CheckpointStore,
  SNAPSHOT_VERSION,
  type SnapshotStatus,
  StateSnapshot
} from "./Checkpoint.ts"
import { errorMessage } from "./Event.ts"
import { type BusEvent, EventBus, type ExecutionEvent, type ExecutionFinished } from "./EventBus.ts"
import { ExecutionState, type ExecutionStateOptions, type RestoredState } from "./ExecutionState.ts"
import { isoNow } from "./internal/time.ts"
import type { InterruptSignal } from "./Interrupt.ts"
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
 * The program was interrupted; `checkpointId` is set when its snapshot was saved.
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
 * How a run ended.
 *
 * @category models
 * @since 0.1.0
 */
export type Outcome<A, E> = Completed<A> | Interrupted | Failed<E>

/**
 * What the running program knows about its run: when it was first created, the workflow name and
 * its input. Written into every snapshot.
 *
 * @category models
 * @since 0.1.0
 */
export interface RunInfo {
  readonly createdAt: string
  readonly workflow?: string | undefined
  readonly input?: Schema.Json | undefined
}

/**
 * The run the current fiber belongs to, if any.
 *
 * @category references
 * @since 0.1.0
 */
export const CurrentRun = Context.Reference<RunInfo | undefined>("agent-interrupt/CurrentRun", {
  defaultValue: () => undefined
})

/**
 * Options of {@link run} and {@link resume}: the execution's options plus what the run records and
 * who watches it.
 *
 * **Details**
 *
 * - `workflow`, `input`: recorded in the snapshot (so a resume knows what to run).
 * - `historyLimit`: the bus's retained history (default 10,000).
 * - `saveEvery`: `"interrupt"` (default) writes the snapshot when the run ends; `"event"` also after
 *   every completed event.
 * - `subscribers`: bus handlers attached before the program starts (a printer, an NDJSON writer).
 * - `onStart`: runs once the execution exists, before the program (install a signal handler, a remote
 *   interrupt listener); it lives as long as the run.
 *
 * @category options
 * @since 0.1.0
 */
export interface RunOptions extends Omit<ExecutionStateOptions, "restore"> {
  readonly workflow?: string | undefined
  readonly input?: Schema.Json | undefined
  readonly historyLimit?: number | undefined
  readonly saveEvery?: "interrupt" | "event" | undefined
  readonly subscribers?: ReadonlyArray<(event: BusEvent) => Effect.Effect<void, unknown>> | undefined
  readonly onStart?:
    | ((execution: {
      readonly state: ExecutionState["Service"]
      readonly bus: EventBus["Service"]
    }) => Effect.Effect<void, never, Scope.Scope>)
    | undefined
}

// -----------------------------------------------------------------------------
// Snapshots
// -----------------------------------------------------------------------------


const keyOf = (event: ExecutionEvent) => `${event.address}#${event.occurrence}`

/**
 * The snapshot of the current execution, with the given status.
 *
 * @category constructors
 * @since 0.1.0
 */
export const snapshot = (
  status: SnapshotStatus,
  extra: { readonly signal?: InterruptSignal | undefined; readonly error?: string | undefined } = {}
): Effect.Effect<StateSnapshot, never, ExecutionState | EventBus> =>
  Effect.gen(function*() {
    const state = yield* ExecutionState
    const bus = yield* EventBus
    const info = yield* CurrentRun
    const now = yield* isoNow
    const history = yield* bus.history
    const journal = yield* state.journal
    const dropped = yield* bus.dropped
    const partialOutputs: Record<string, Schema.Json> = {}
    for (const event of journal) {
      if (event.partialOutput !== undefined) partialOutputs[keyOf(event)] = event.partialOutput
    }
    return new StateSnapshot({
      version: SNAPSHOT_VERSION,
      stateId: state.stateId,
      createdAt: info?.createdAt ?? now,
      updatedAt: now,
      status,
      metadata: {
        ...(info?.workflow === undefined ? {} : { workflow: info.workflow }),
        ...(info?.input === undefined ? {} : { input: info.input }),
        ...(extra.signal === undefined ? {} : { interrupt: extra.signal }),
        ...(extra.error === undefined ? {} : { error: extra.error }),
        ...(dropped === 0 ? {} : { eventsDropped: dropped })
      },
      events: history.filter((e): e is ExecutionEvent => e._tag === "ExecutionEvent"),
      completed: journal.filter((e) => e.status === "completed" || e.status === "recovered"),
      partialOutputs,
      storage: yield* state.storage.entries
    }, { disableChecks: true })
  })

/**
 * Saves a snapshot of the current execution now (status `running`, or `interrupted` once it is) and
 * returns its checkpoint id (the state id).
 *
 * @category accessors
 * @since 0.1.0
 */
export const saveCheckpoint: Effect.Effect<string, CheckpointError, ExecutionState | EventBus | CheckpointStore> =
  Effect.gen(function*() {
    const state = yield* ExecutionState
    const store = yield* CheckpointStore
    const signal = yield* state.interruptSignal
    const snap = yield* snapshot(Option.isSome(signal) ? "interrupted" : "running", {
      signal: Option.getOrUndefined(signal)
    })
    yield* store.save(snap)
    return state.stateId
  }).pipe(Effect.uninterruptible)

// -----------------------------------------------------------------------------
// run / resume
// -----------------------------------------------------------------------------

const runWith = <A, E, R>(
  program: Effect.Effect<A, E, R>,
  options: RunOptions,
  restore: (RestoredState & { readonly createdAt: string }) | undefined
): Effect.Effect<Outcome<A, E>, never, Exclude<R, ExecutionState | EventBus>> =>
  Effect.scoped(Effect.gen(function*() {
    const store = yield* Effect.serviceOption(CheckpointStore)
    const { historyLimit, input, onStart, saveEvery, subscribers, workflow, ...stateOptions } = options
    const context = yield* Layer.build(
      ExecutionState.layerWith({ ...stateOptions, restore }).pipe(
        Layer.provideMerge(EventBus.layerWith({ historyLimit }))
      )
    )
    const state = Context.get(context, ExecutionState)
    const bus = Context.get(context, EventBus)
    const info: RunInfo = {
      createdAt: restore?.createdAt ?? (yield* isoNow),
      workflow,
      input
    }
    const withRun = <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) =>
      effect.pipe(Effect.provide(context), Effect.provideService(CurrentRun, info))

    for (const subscriber of subscribers ?? []) yield* bus.subscribe(subscriber)

    // One save at a time, so an older snapshot never lands after a newer one.
    const saving = yield* Semaphore.make(1)
    const save = (status: SnapshotStatus, extra: Parameters<typeof snapshot>[1]) =>
      Option.match(store, {
        onNone: () => Effect.succeed<ExecutionFinished["checkpoint"]>("not_saved"),
        onSome: (store) =>
          Semaphore.withPermits(saving, 1)(
            withRun(snapshot(status, extra)).pipe(Effect.flatMap(store.save))
          ).pipe(
            Effect.as<ExecutionFinished["checkpoint"]>("saved"),
            Effect.catch((error) =>
              Effect.as(Effect.logError("Checkpoint could not be saved", error), "failed" as const)
            ),
            Effect.uninterruptible
          )
      })

    if (saveEvery === "event" && Option.isSome(store)) {
      yield* bus.subscribe((event) =>
        event._tag === "ExecutionEvent" && event.status === "completed"
          ? Effect.flatMap(state.interruptSignal, (signal) =>
            Option.isSome(signal) ? Effect.void : Effect.asVoid(save("running", {})))
          : Effect.void
      )
    }
    if (onStart !== undefined) yield* onStart({ state, bus })

    // The end of the run: classify, write the final snapshot, announce it.
    const finish = (exit: Exit.Exit<A, E>): Effect.Effect<Outcome<A, E>> =>
      Effect.gen(function*() {
        const signal = yield* state.interruptSignal
        const stateId = state.stateId
        let outcome: Outcome<A, E>
        let checkpoint: ExecutionFinished["checkpoint"]
        if (Exit.isSuccess(exit)) {
          checkpoint = yield* save("completed", {})
          outcome = { _tag: "Completed", stateId, value: exit.value }
        } else if (Option.isSome(signal)) {
          checkpoint = signal.value.saveCheckpoint
            ? yield* save("interrupted", { signal: signal.value })
            : "not_saved"
          outcome = {
            _tag: "Interrupted",
            stateId,
            signal: signal.value,
            checkpointId: checkpoint === "saved" ? Option.some(stateId) : Option.none()
          }
        } else {
          const error = Cause.findErrorOption(exit.cause)
          const message = Option.isSome(error) ? errorMessage(error.value) : errorMessage(Cause.squash(exit.cause))
          checkpoint = yield* save("failed", { error: message })
          outcome = { _tag: "Failed", stateId, cause: exit.cause }
        }
        const now = yield* isoNow
        yield* bus.publish({
          _tag: "ExecutionFinished",
          stateId,
          status: outcome._tag === "Completed" ? "completed" : outcome._tag === "Interrupted" ? "interrupted" : "failed",
          timestamp: now,
          checkpoint,
          ...(Option.isSome(signal) ? { signal: signal.value } : {}),
          ...(checkpoint === "saved" ? { checkpointId: stateId } : {}),
          ...(outcome._tag === "Failed" ? { detail: errorMessage(Cause.squash(outcome.cause)) } : {})
        })
        return outcome
      }).pipe(Effect.uninterruptible)

    // If the run itself is interrupted (the runtime shutting down), it is an interrupt like any
    // other: requested, checkpointed, announced.
    // The program itself is stoppable work: the interrupt ends it per the stop policy, wherever it is.
    const exit = yield* Effect.flatten(withRun(state.runStoppable(program))).pipe(
      Effect.exit,
      Effect.onInterrupt(() =>
        state.requestInterrupt({ reason: "system_shutdown", triggeredBy: "runtime" }).pipe(
          Effect.andThen(finish(Exit.interrupt())),
          Effect.asVoid
        )
      )
    )
    return yield* finish(exit)
  })) as Effect.Effect<Outcome<A, E>, never, Exclude<R, ExecutionState | EventBus>>

/**
 * Runs a program as a fresh execution and returns its outcome; with a `CheckpointStore` in context,
 * writes the final snapshot (`completed`, `failed`, or `interrupted` when the signal asks for a
 * checkpoint) and publishes `ExecutionFinished`.
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
): Effect.Effect<Outcome<A, E>, never, Exclude<R, ExecutionState | EventBus>> => runWith(program, options, undefined)

/**
 * Resumes an execution from its checkpoint: same state id, completed events replayed (`recovered`),
 * everything else run for real with the same idempotency keys. `program` may be a function of the
 * snapshot (to read the workflow's input from it). Fails with `CheckpointError` for an unknown id
 * (`not_found`), a completed run (`not_resumable`), a corrupt or newer snapshot.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resume = <A, E, R>(
  stateId: string,
  program: Effect.Effect<A, E, R> | ((snapshot: StateSnapshot) => Effect.Effect<A, E, R>),
  options: Omit<RunOptions, "stateId"> = {}
): Effect.Effect<Outcome<A, E>, CheckpointError, Exclude<R, ExecutionState | EventBus> | CheckpointStore> =>
  Effect.gen(function*() {
    const snap = yield* loadResumable(stateId)
    const effect = typeof program === "function" ? program(snap) : program
    return yield* runWith(effect, {
      ...options,
      stateId,
      workflow: options.workflow ?? snap.metadata.workflow,
      input: options.input ?? snap.metadata.input
    }, { createdAt: snap.createdAt, completed: snap.completed, storage: snap.storage })
  })

/**
 * Loads the snapshot a resume starts from: `not_found` when there is none, `not_resumable` when the
 * run already completed (and the store's errors for a corrupt or newer document).
 *
 * @category constructors
 * @since 0.1.0
 */
export const loadResumable = (stateId: string): Effect.Effect<StateSnapshot, CheckpointError, CheckpointStore> =>
  Effect.gen(function*() {
    const store = yield* CheckpointStore
    const found = yield* store.load(stateId)
    if (Option.isNone(found)) {
      return yield* new CheckpointError({ reason: "not_found", stateId, location: store.location, detail: "" })
    }
    const snap = found.value
    if (snap.status === "completed") {
      return yield* new CheckpointError({
        reason: "not_resumable",
        stateId,
        location: store.location,
        detail: `it already completed at ${snap.updatedAt}`
      })
    }
    return snap
  })

/**
 * The workflow a snapshot ran, found by name among `workflows` and prepared with its recorded input.
 *
 * @category constructors
 * @since 0.1.0
 */
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
