/**
 * Running-agents benchmarks: how fast a stop reaches a running handler, how fast a large parallel
 * group is cancelled, and what `runEvent` costs over calling the handler.
 */
import { Context, Deferred, Effect, Exit, Fiber, FiberSet, Layer, Ref, References, Scope } from "effect"
import { Actor, EventBus, type Execution, ExecutionState, Journal, parallel, runEvent } from "../src/index.ts"
import { interleaved, median, percentile, type Row } from "./harness.ts"

const suite = "events"

const freshExecution = Effect.gen(function*() {
  const scope = yield* Scope.make()
  // a history as large as the biggest group, so that nothing is dropped (and nothing warns)
  const layer = Layer.mergeAll(ExecutionState.layerWith({ stateId: "bench" }), Journal.layerMemory("bench")).pipe(
    Layer.provideMerge(EventBus.layerWith({ historyLimit: 250_000 })),
    Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
  )
  const context = yield* Layer.buildWithScope(layer, scope)
  return { context, scope }
})

const nanos = () => process.hrtime.bigint()
const micros = (from: bigint, to: bigint) => Number(to - from) / 1_000

/** requestInterrupt → runEvent has failed and its `interrupted` event is on the bus (µs). */
const stopLatency = (runs: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    const blocked = Actor.llm("think", (started: Deferred.Deferred<void>) =>
      Effect.andThen(Deferred.succeed(started, undefined), Effect.sleep("1 hour")))
    for (let i = 0; i < runs; i++) {
      const { context, scope } = yield* freshExecution
      const state = Context.get(context, ExecutionState)
      const bus = Context.get(context, EventBus)
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        Effect.provideContext(runEvent(blocked, started), context),
        { startImmediately: true }
      )
      yield* Deferred.await(started)
      const t0 = nanos()
      yield* state.requestInterrupt({ reason: "user_cancelled" })
      yield* Fiber.await(fiber)
      const t1 = nanos()
      const history = yield* bus.history
      if (!history.some((e) => e._tag === "ExecutionEvent" && e.status === "interrupted")) {
        return yield* Effect.die(new Error("no interrupted event"))
      }
      samples.push(micros(t0, t1))
      yield* Scope.close(scope, Exit.void)
    }
    return samples
  })

/** The floor: raceFirst(sleep 1 h, Deferred.await(stop)), from succeed(stop) until the race is done (µs). */
const bareRace = (runs: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const stop = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(Effect.raceFirst(Effect.sleep("1 hour"), Deferred.await(stop)), {
        startImmediately: true
      })
      yield* Effect.yieldNow
      const t0 = nanos()
      yield* Deferred.succeed(stop, undefined)
      yield* Fiber.await(fiber)
      samples.push(micros(t0, nanos()))
    }
    return samples
  })

/** The seed's shape: the handler's loop polls a flag every 100 ms (µs until it noticed). */
const polling = (runs: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < runs; i++) {
      const flag = yield* Ref.make(false)
      const loop = Effect.gen(function*() {
        while (!(yield* Ref.get(flag))) yield* Effect.sleep("100 millis")
      })
      const fiber = yield* Effect.forkChild(loop, { startImmediately: true })
      // stop at a random moment within the polling period
      yield* Effect.sleep(Math.floor(Math.random() * 100))
      const t0 = nanos()
      yield* Ref.set(flag, true)
      yield* Fiber.await(fiber)
      samples.push(micros(t0, nanos()))
    }
    return samples
  })

/**
 * Interrupt a group of `n` branches, each in a 1 h sleep: until `parallel` returned and no branch is
 * alive (ms). Branches are bare effects, or `runEvent` calls (each then publishes its `interrupted`).
 */
const parallelCancel = (n: number, kind: "effect" | "runEvent") =>
  Effect.gen(function*() {
    const { context, scope } = yield* freshExecution
    const state = Context.get(context, ExecutionState)
    const alive = yield* Ref.make(0)
    const allStarted = yield* Deferred.make<void>()
    const sleeper = Effect.gen(function*() {
      const now = yield* Ref.updateAndGet(alive, (k) => k + 1)
      if (now === n) yield* Deferred.succeed(allStarted, undefined)
      yield* Effect.sleep("1 hour")
    }).pipe(Effect.ensuring(Ref.update(alive, (k) => k - 1)))
    const branch = Actor.tool("branch", (_: number) => sleeper)
    const branches = Array.from({ length: n }, (_, i) => kind === "effect" ? sleeper : runEvent(branch, i))
    const group = yield* Effect.forkChild(
      Effect.provideContext(parallel(branches, { concurrency: "unbounded" }), context),
      { startImmediately: true }
    )
    yield* Deferred.await(allStarted)
    const t0 = nanos()
    yield* state.requestInterrupt({ reason: "user_cancelled" })
    yield* Fiber.await(group)
    const ms = micros(t0, nanos()) / 1000
    const left = yield* Ref.get(alive)
    if (left !== 0) return yield* Effect.die(new Error(`${left} branch fibers still alive`))
    yield* Scope.close(scope, Exit.void)
    return ms
  })

/** The floor: FiberSet.clear of `n` fibers each sleeping 1 h with one finalizer (ms). */
const fiberSetClear = (n: number) =>
  Effect.scoped(Effect.gen(function*() {
    const set = yield* FiberSet.make()
    const alive = yield* Ref.make(0)
    for (let i = 0; i < n; i++) {
      yield* FiberSet.run(
        set,
        Effect.andThen(Ref.update(alive, (k) => k + 1), Effect.sleep("1 hour")).pipe(
          Effect.ensuring(Ref.update(alive, (k) => k - 1))
        ),
        { startImmediately: true }
      )
    }
    const t0 = nanos()
    yield* FiberSet.clear(set)
    const ms = micros(t0, nanos()) / 1000
    if ((yield* Ref.get(alive)) !== 0) return yield* Effect.die(new Error("fibers still alive"))
    return ms
  }))

const overhead = async (rows: Array<Row>) => {
  const N = 20_000
  const handler = (n: number) => Effect.succeed(n + 1)
  const trivial = Actor.tool("trivial", handler)
  const withSubscribers = (count: number) =>
    Effect.runPromise(Effect.gen(function*() {
      const { context } = yield* freshExecution
      const bus = Context.get(context, EventBus)
      const subscribersScope = yield* Scope.make()
      for (let i = 0; i < count; i++) yield* Scope.provide(bus.subscribe(() => Effect.void), subscribersScope)
      return context
    }))
  const ctx0 = await withSubscribers(0)
  const ctx3 = await withSubscribers(3)
  const loop = (context: Context.Context<Execution>, direct: boolean) =>
    Effect.gen(function*() {
      for (let i = 0; i < N; i++) {
        if (direct) yield* handler(i)
        else yield* runEvent(trivial, i)
      }
    }).pipe(Effect.provideContext(context)) as Effect.Effect<void>
  const [direct, zero, three] = (await interleaved(N, [loop(ctx0, true), loop(ctx0, false), loop(ctx3, false)], 5)) as [
    number,
    number,
    number
  ]
  rows.push({ suite, name: "handler called directly (baseline)", value: direct, unit: "ns" })
  rows.push({
    suite,
    name: "runEvent, trivial handler, 0 subscribers",
    value: zero,
    unit: "ns",
    baseline: "direct",
    ratio: zero / direct
  })
  rows.push({ suite, name: "runEvent events per second, 0 subscribers", value: 1e9 / zero, unit: "/s" })
  rows.push({
    suite,
    name: "runEvent, trivial handler, 3 subscribers",
    value: three,
    unit: "ns",
    baseline: "0 subscribers",
    ratio: three / zero
  })
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const RUNS = 2_000
  const race = await Effect.runPromise(bareRace(RUNS))
  const stop = await Effect.runPromise(stopLatency(RUNS))
  const poll = await Effect.runPromise(polling(40))
  const raceP99 = percentile(race, 99)
  rows.push({ suite, name: "bare raceFirst(sleep, Deferred.await) p50", value: median(race), unit: "µs" })
  rows.push({ suite, name: "bare raceFirst(sleep, Deferred.await) p99 (baseline)", value: raceP99, unit: "µs" })
  rows.push({ suite, name: `stop latency p50 (${RUNS} runs)`, value: median(stop), unit: "µs" })
  const stopP99 = percentile(stop, 99)
  rows.push({
    suite,
    name: `stop latency p99 (${RUNS} runs)`,
    value: stopP99,
    unit: "µs",
    baseline: "race p99",
    ratio: stopP99 / raceP99,
    target: "≤ 200 µs, ≤ 10×",
    ok: stopP99 <= 200 && stopP99 / raceP99 <= 10
  })
  rows.push({ suite, name: "100 ms polling (seed) p50, 40 runs", value: median(poll), unit: "µs" })
  rows.push({ suite, name: "100 ms polling (seed) p99, 40 runs", value: percentile(poll, 99), unit: "µs" })

  const clears: Array<number> = []
  for (let i = 0; i < 3; i++) clears.push(await Effect.runPromise(fiberSetClear(10_000)))
  const clear = median(clears)
  const cancel = async (n: number, kind: "effect" | "runEvent", rounds: number) => {
    const out: Array<number> = []
    for (let i = 0; i < rounds; i++) out.push(await Effect.runPromise(parallelCancel(n, kind)))
    return median(out)
  }
  const bare = await cancel(10_000, "effect", 3)
  const events = await cancel(10_000, "runEvent", 3)
  rows.push({ suite, name: "FiberSet.clear, 10,000 sleeping fibers (baseline)", value: clear, unit: "ms" })
  rows.push({
    suite,
    name: "parallel cancel, 10,000 sleeping branches",
    value: bare,
    unit: "ms",
    baseline: "FiberSet.clear",
    ratio: bare / clear,
    target: "≤ 2×",
    ok: bare / clear <= 2
  })
  rows.push({
    suite,
    name: "parallel cancel, 10,000 runEvent branches (+ events)",
    value: events,
    unit: "ms",
    baseline: "FiberSet.clear",
    ratio: events / clear
  })
  const big = await cancel(100_000, "effect", 1)
  rows.push({
    suite,
    name: "parallel cancel, 100,000 sleeping branches",
    value: big,
    unit: "ms",
    target: "< 1,000 ms",
    ok: big < 1000
  })
  const bigEvents = await cancel(100_000, "runEvent", 1)
  rows.push({ suite, name: "parallel cancel, 100,000 runEvent branches (+ events)", value: bigEvents, unit: "ms" })
  await overhead(rows)
  return rows
}
