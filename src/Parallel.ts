/**
 * Parallel groups: run branches concurrently, collect one `ExecutionResult` per branch, and stop
 * every running branch the moment the execution is interrupted — no polling.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Option } from "effect"
import {
  type Branch,
  CurrentBranch,
  CurrentGroup,
  CurrentPath,
  errorMessage,
  type ExecutionResult,
  type GroupStop,
  settleMembers
} from "./Event.ts"
import { EventBus, type GroupStatus } from "./EventBus.ts"
import { ExecutionState } from "./ExecutionState.ts"
import { formatSeconds, isoOf } from "./internal/time.ts"
import { ExecutionInterrupted, type InterruptSignal, isExecutionInterrupted } from "./Interrupt.ts"
import { Journal } from "./Journal.ts"

/**
 * Options of {@link parallel}.
 *
 * **Details**
 *
 * - `concurrency`: how many branches run at once (default 5; `"unbounded"` for all).
 * - `errorStrategy`: `"fail_slow"` (default) lets every branch finish; `"fail_fast"` cancels the
 *   running and pending branches at the first failure.
 * - `name`: the group's name in its id and events (default `parallel`).
 * - `timeout`: cancel the branches still running after this long (`Group timed out after {duration}`).
 *
 * @category options
 * @since 0.1.0
 */
export interface ParallelOptions {
  readonly concurrency?: number | "unbounded" | undefined
  readonly errorStrategy?: "fail_slow" | "fail_fast" | undefined
  readonly name?: string | undefined
  readonly timeout?: Duration.Input | undefined
}


type Stop =
  | { readonly _tag: "done" }
  | { readonly _tag: "interrupted" }
  | { readonly _tag: "fail_fast" }
  | { readonly _tag: "timeout" }

/**
 * Runs effects as a parallel group and returns one `ExecutionResult` per branch, in input order.
 *
 * **Details**
 *
 * - Checks for an interrupt before starting (an interrupted execution starts no branch) and after
 *   finishing.
 * - On interrupt every running branch is interrupted at once and the group fails with
 *   `ExecutionInterrupted`; branches that completed keep their `completed` events in the history.
 * - Each branch runs with the group's id (member events carry it as `groupId`) and its own copy of the
 *   current path. Group events go on the bus: `pending`, `running`, then `completed` (no branch
 *   failed), `failed` or `cancelled`, with total / completed / failed counts.
 * - `fail_fast` and `timeout` cancel the unfinished branches; their results say why
 *   (`Cancelled after a sibling failed`, `Group timed out after 5s`).
 *
 * **Example** (Three searches, two at a time)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Actor, parallel, runEvent } from "agent-interrupt"
 *
 * const search = Actor.tool("search", (q: string) => Effect.succeed(q.length))
 * const results = parallel(["a", "bb", "ccc"].map((q) => runEvent(search, q)), { concurrency: 2 })
 * // => [{ ok: true, result: 1, ... }, { ok: true, result: 2, ... }, { ok: true, result: 3, ... }]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parallel = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options: ParallelOptions = {}
): Effect.Effect<Array<ExecutionResult<A>>, ExecutionInterrupted, R | ExecutionState | EventBus | Journal> =>
  Effect.gen(function*() {
    const state = yield* ExecutionState
    yield* state.checkInterrupt // an interrupted execution starts no branch
    const bus = yield* EventBus
    const fiber = yield* Effect.withFiber((f) => Effect.succeed(f))
    const clock = fiber.getRef(Clock.Clock)
    const nowMillis = () => Number(clock.currentTimeNanosUnsafe()) / 1e6
    const branches = Array.from(effects)
    const total = branches.length
    const name = options.name ?? "parallel"
    const path = fiber.getRef(CurrentPath)
    const base = path.length === 0 ? name : `${path.join("::")}::${name}`
    const groupId = `${base}#${(yield* Journal).nextOccurrence(`group:${base}`)}`
    const failFast = options.errorStrategy === "fail_fast"
    const timeout = options.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout)

    const results: Array<ExecutionResult<A> | undefined> = new Array(total)
    const startedAt: Array<number | undefined> = new Array(total)
    let completed = 0
    let failed = 0
    // set once the group published its final status
    let settled = false

    const publishGroup = (status: GroupStatus, detail?: string) => {
      if (status === "completed" || status === "failed" || status === "cancelled") settled = true
      return bus.publish({
        _tag: "GroupEvent",
        stateId: state.stateId,
        groupId,
        name,
        address: base,
        status,
        total,
        completed,
        failed,
        timestamp: isoOf(clock.currentTimeMillisUnsafe()),
        ...(detail === undefined ? {} : { detail })
      })
    }

    yield* publishGroup("pending")
    const firstFailure = yield* Deferred.make<void>()
    // Branches run with the group's id; each branch fiber keeps its own copy of the path.
    const branchContext = Context.add(fiber.context, CurrentGroup, groupId) as Context.Context<R>
    // The group's direct member events run their handlers in the branch fibers: when the interrupt
    // aborts the group, their handlers' abort signals go first and the events report the interrupt.
    const group: GroupStop = { signal: undefined, controllers: new Set(), members: new Set() }
    const abortMembers = (signal: InterruptSignal) => {
      group.signal = signal
      for (const controller of group.controllers) controller.abort(signal)
      group.controllers.clear()
    }

    const runBranch = (effect: Effect.Effect<A, E, R>, index: number): Effect.Effect<void> =>
      Effect.withFiber((branchFiber) => {
        // nothing new starts once the execution is interrupted (a drain lets running ones finish)
        if (state.currentInterrupt() !== undefined) return Effect.void
        const start = nowMillis()
        startedAt[index] = start
        const tally: Branch = { completed: false, group, fiber: branchFiber }
        // The branch runs with the group's context plus its tally, set on its fiber and put back
        // below, rather than provided: a provided context is put back by a finalizer, one more frame
        // for every branch a stop unwinds. A branch stopped here ends its fiber.
        const outer = branchFiber.context
        branchFiber.setContext(Context.add(branchContext, CurrentBranch, tally))
        return Effect.flatMap(Effect.exit(effect as Effect.Effect<A, E>), (exit) => {
          branchFiber.setContext(outer)
          const executionTime = nowMillis() - start
          if (Exit.isSuccess(exit)) {
            results[index] = { result: exit.value, executionTime, ok: true }
            completed++
            return Effect.void
          }
          if (Cause.hasInterruptsOnly(exit.cause)) return Effect.failCause(exit.cause as Cause.Cause<never>)
          const error = Cause.findErrorOption(exit.cause)
          const message = Option.isSome(error) ? errorMessage(error.value) : errorMessage(Cause.squash(exit.cause))
          results[index] = { executionTime, ok: false, errorMessage: message }
          if (Option.isSome(error) && isExecutionInterrupted(error.value)) {
            // its step completed (kept in the journal) before the stop failed it: counted as done
            if (tally.completed) completed++
            return Effect.void
          }
          failed++
          return failFast ? Deferred.succeed(firstFailure, undefined) : Effect.void
        })
      })

    yield* publishGroup("running")
    const all: Effect.Effect<Stop> = Effect.as(
      Effect.forEach(branches, runBranch, { concurrency: options.concurrency ?? 5, discard: true }),
      { _tag: "done" }
    )
    const watchers: Array<Effect.Effect<Stop>> = []
    if (failFast) watchers.push(Effect.as(Deferred.await(firstFailure), { _tag: "fail_fast" } as const))
    if (timeout !== undefined) watchers.push(Effect.as(Effect.sleep(timeout), { _tag: "timeout" } as const))
    // The interrupt stops the whole group in one go (per the stop policy), no watcher per branch. If
    // the fiber running the group is itself stopped (an enclosing handler), the group still ends
    // with exactly one final status.
    const exit = yield* state.runStoppable(watchers.length === 0 ? all : Effect.raceAllFirst([all, ...watchers]), {
      onAbort: abortMembers
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.andThen(
          settleMembers(group),
          settled
            ? Effect.void
            : Effect.flatMap(state.interruptSignal, (signal) =>
              publishGroup(
                "cancelled",
                Option.isSome(signal) ? `Interrupted: ${signal.value.reason}` : "Cancelled"
              ))
        )
      )
    )
    // the member events of branches that were stopped end first, before the group
    yield* settleMembers(group)

    const interruptedSignal = yield* state.interruptSignal
    const stop: Stop = Exit.isSuccess(exit) ? exit.value : { _tag: "interrupted" }
    if (Exit.isFailure(exit) && Option.isNone(interruptedSignal)) return yield* Effect.failCause(exit.cause)
    const reason = Option.isSome(interruptedSignal)
      ? `Interrupted: ${interruptedSignal.value.reason}`
      : stop._tag === "fail_fast"
      ? "Cancelled after a sibling failed"
      : stop._tag === "timeout"
      ? `Group timed out after ${formatSeconds(timeout!)}s`
      : "Cancelled"
    if (Option.isSome(interruptedSignal)) {
      yield* publishGroup("cancelled", reason)
      return yield* Effect.andThen(
        state.checkInterrupt,
        Effect.suspend(() => Effect.fail(ExecutionInterrupted.fromSignal(interruptedSignal.value)))
      )
    }
    const end = nowMillis()
    const out = Array.from({ length: total }, (_, index): ExecutionResult<A> =>
      results[index] ?? {
        executionTime: startedAt[index] === undefined ? 0 : end - startedAt[index]!,
        ok: false,
        errorMessage: reason
      }
    )
    if (stop._tag === "fail_fast" || stop._tag === "timeout") {
      yield* publishGroup("cancelled", reason)
      return out
    }
    yield* publishGroup(failed > 0 ? "failed" : "completed")
    return out
  })
