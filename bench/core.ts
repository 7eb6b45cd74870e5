/**
 * Foundation benchmarks: the cost of a checkpoint, of an interrupt, and of an execution in memory.
 */
import { Context, Effect, Exit, Layer, Ref, Scope } from "effect"
import { Actor, checkInterrupt, EventBus, ExecutionState, runEvent } from "../src/index.ts"
import { heapUsed, interleaved, loopOf, median, nsPerOp, type Row } from "./harness.ts"

const N = 1_000_000

const buildState = Effect.gen(function*() {
  const scope: Scope.Closeable = yield* Scope.make()
  const context = yield* Layer.buildWithScope(ExecutionState.layerWithBus({ stateId: "bench" }), scope)
  return { context, scope, state: Context.get(context, ExecutionState) }
})

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const suite = "core"

  // --- checkInterrupt fast path vs yield* Ref.get --------------------------------
  const ref = Ref.makeUnsafe(false)
  const { context, state } = await Effect.runPromise(buildState)
  // The baseline as PERF.md measures it: `yield* Ref.get(ref)`, which builds its effect per call.
  // All three loops run in alternation so that GC and JIT phases hit them alike.
  const ROUNDS = 15
  const [refGet, member, accessorInProgram] = (await interleaved(N, [
    loopOf(N, () => Ref.get(ref)),
    loopOf(N, state.checkInterrupt),
    loopOf(N, checkInterrupt, context)
  ], ROUNDS)) as [number, number, number]
  rows.push({ suite, name: "yield* Ref.get (baseline)", value: refGet, unit: "ns", samples: ROUNDS })
  rows.push({
    suite,
    name: "checkInterrupt fast path (service member)",
    value: member,
    unit: "ns",
    baseline: "Ref.get",
    ratio: member / refGet,
    target: "≤ 1.25×",
    ok: member / refGet <= 1.25,
    samples: ROUNDS
  })
  rows.push({
    suite,
    name: "checkInterrupt fast path (module accessor)",
    value: accessorInProgram,
    unit: "ns",
    baseline: "Ref.get",
    ratio: accessorInProgram / refGet,
    target: "≤ 1.25×",
    ok: accessorInProgram / refGet <= 1.25,
    samples: ROUNDS
  })

  // --- without yield* ------------------------------------------------------------
  // `yield*` takes a checkpoint by its outcome; composed with `Effect.andThen` it runs as an effect
  // (two steps), beside `Ref.get` composed the same way.
  const [refGetPiped, accessorPiped] = (await interleaved(N, [
    loopOf(N, () => Effect.andThen(Ref.get(ref), Effect.void)),
    loopOf(N, Effect.andThen(checkInterrupt, Effect.void), context)
  ], ROUNDS)) as [number, number]
  rows.push({ suite, name: "Effect.andThen(Ref.get, void) (baseline)", value: refGetPiped, unit: "ns", samples: ROUNDS })
  rows.push({
    suite,
    name: "Effect.andThen(checkInterrupt, void): the accessor composed, not yielded",
    value: accessorPiped,
    unit: "ns",
    baseline: "andThen(Ref.get)",
    ratio: accessorPiped / refGetPiped,
    samples: ROUNDS
  })

  // --- with a synchronous checker -----------------------------------------------
  const withChecker = await Effect.runPromise(Effect.gen(function*() {
    const built = yield* buildState
    yield* built.state.setInterruptChecker(() => false)
    return built.state
  }))
  const checker = await nsPerOp(200_000, withChecker.checkInterrupt)
  rows.push({
    suite,
    name: "checkInterrupt with a sync checker",
    value: checker,
    unit: "ns",
    baseline: "Ref.get",
    ratio: checker / refGet
  })

  // --- requestInterrupt + publish ----------------------------------------------
  // 1,000 fresh executions per round (a small live heap), 5 rounds, median.
  const { InterruptEvent, InterruptSignal } = await import("../src/index.ts")
  const event = new InterruptEvent({ stateId: "bench", signal: new InterruptSignal({ reason: "timeout" }) })
  const M = 1_000
  const interruptSamples: Array<number> = []
  const publishSamples: Array<number> = []
  for (let round = 0; round < 6; round++) {
    const states = await Effect.runPromise(Effect.forEach(Array.from({ length: M }), () => buildState))
    let start = process.hrtime.bigint()
    await Effect.runPromise(
      Effect.forEach(states, ({ context: c }) => Context.get(c, EventBus).publish(event), { discard: true })
    )
    const publishNs = Number(process.hrtime.bigint() - start) / M
    start = process.hrtime.bigint()
    await Effect.runPromise(
      Effect.forEach(states, ({ state: s }) => s.requestInterrupt({ reason: "timeout" }), { discard: true })
    )
    const interruptNs = Number(process.hrtime.bigint() - start) / M
    await Effect.runPromise(Effect.forEach(states, ({ scope }) => Scope.close(scope, Exit.void), { discard: true }))
    if (round > 0) { // round 0 warms up
      interruptSamples.push(interruptNs)
      publishSamples.push(publishNs)
    }
  }
  const publishNs = median(publishSamples)
  const interruptNs = median(interruptSamples)
  rows.push({ suite, name: "EventBus.publish (baseline)", value: publishNs, unit: "ns" })
  rows.push({
    suite,
    name: "requestInterrupt + publish (first, winning request)",
    value: interruptNs,
    unit: "ns",
    baseline: "publish",
    ratio: interruptNs / publishNs
  })

  // --- memory ------------------------------------------------------------------
  // An execution as a program gets it (ExecutionState, its bus and journal), idle and running: with
  // one runEvent in flight, its handler blocked in a sleep.
  const K = 10_000
  const thinking = Actor.llm("think", (_: number) => Effect.sleep("1 hour"))
  const running = Effect.gen(function*() {
    const built = yield* buildState
    yield* Effect.forkIn(Effect.provideContext(runEvent(thinking, 1), built.context), built.scope, {
      startImmediately: true
    })
    return built
  })
  const stopAndClose = ({ scope, state: s }: { readonly scope: Scope.Closeable; readonly state: ExecutionState["Service"] }) =>
    Effect.andThen(s.requestInterrupt({ reason: "user_cancelled" }), Scope.close(scope, Exit.void))
  const cycle = () =>
    Effect.runPromise(Effect.gen(function*() {
      const live = yield* Effect.forEach(Array.from({ length: K }), () => running)
      yield* Effect.forEach(live, stopAndClose, { discard: true })
    }))
  await cycle() // warm-up: JIT code and caches are not executions
  const perExecution = async (make: Effect.Effect<{ readonly scope: Scope.Closeable; readonly state: ExecutionState["Service"] }>) => {
    const before = await heapUsed()
    const live = await Effect.runPromise(Effect.forEach(Array.from({ length: K }), () => make))
    const during = await heapUsed()
    await Effect.runPromise(Effect.forEach(live, stopAndClose, { discard: true }))
    live.length = 0
    return (during - before) / K
  }
  const idle = await perExecution(buildState)
  const busy = await perExecution(running)
  rows.push({ suite, name: "heap per execution, idle (ExecutionState + bus + journal)", value: idle, unit: "B" })
  rows.push({ suite, name: "heap per execution, running (one runEvent in flight)", value: busy, unit: "B" })
  const before = await heapUsed()
  await cycle()
  await cycle()
  const after = await heapUsed()
  // signed: a negative figure is the heap shrinking (what earlier runs left was collected)
  const retained = (after - before) / (2 * K)
  rows.push({
    suite,
    name: "heap retained after 2 × 10,000 running executions interrupted and closed",
    value: retained,
    unit: "B/execution",
    target: "≈ 0 (< 64 B)",
    ok: retained < 64
  })
  void state
  return rows
}
