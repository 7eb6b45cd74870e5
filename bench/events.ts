/**
 * Running-agents benchmarks: how fast a stop reaches a running handler, how fast a large parallel
 * group is cancelled, and what `runEvent` costs over the bare primitives it is made of.
 *
 * Every figure is measured beside its floor in the same run, interleaved with it (floor, ours,
 * floor, ours, ...), so that GC, the JIT and the machine's load hit both alike:
 *
 * - stop latency: one `raceFirst(sleep, Deferred.await)` and one stopped `runEvent` per iteration,
 *   2,000 of each; p50 and p99 of each side;
 * - mass cancel: per sample, `FiberSet.clear` of N sleeping fibers, then a `parallel` group of N bare
 *   branches, then one of N `runEvent` branches, each group interrupted by `requestInterrupt`; the
 *   median of 7 samples at 10,000, of 3 at 100,000;
 * - `runEvent` of a trivial handler: per round (a fresh execution each), a loop of the floor (fork
 *   and await one fiber, publish two small events on a PubSub), a loop of `runEvent`, and a loop of
 *   the handler called directly; the median of the rounds.
 */
import { Context, Deferred, Effect, Exit, Fiber, FiberSet, Layer, PubSub, Ref, References, Scope } from "effect"
import { Actor, EventBus, type Execution, ExecutionState, Journal, parallel, runEvent } from "../src/index.ts"
import { heapUsed, median, percentile, type Row } from "./harness.ts"

const suite = "events"

const quiet = Layer.succeed(References.MinimumLogLevel, "Error")

// A history as large as the biggest group (100,000 branches publish 200,000 events), so that
// nothing is dropped and the mass-cancel check can count every `interrupted` event.
const freshExecution = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const layer = Layer.mergeAll(ExecutionState.layerWith({ stateId: "bench" }), Journal.layerMemory("bench")).pipe(
    Layer.provideMerge(EventBus.layerWith({ historyLimit: 250_000 })),
    Layer.provide(quiet)
  )
  const context = yield* Layer.buildWithScope(layer, scope)
  return { context, scope }
})

const nanos = () => process.hrtime.bigint()
const micros = (from: bigint, to: bigint) => Number(to - from) / 1_000

// -----------------------------------------------------------------------------
// Stop latency
// -----------------------------------------------------------------------------

const blocked = Actor.llm("think", (started: Deferred.Deferred<void>) =>
  Effect.andThen(Deferred.succeed(started, undefined), Effect.sleep("1 hour")))

/** The floor: raceFirst(sleep 1 h, Deferred.await(stop)), from succeed(stop) until the race is done (µs). */
const raceSample = Effect.gen(function*() {
  const stop = yield* Deferred.make<void>()
  const fiber = yield* Effect.forkChild(Effect.raceFirst(Effect.sleep("1 hour"), Deferred.await(stop)), {
    startImmediately: true
  })
  yield* Effect.yieldNow
  const t0 = nanos()
  yield* Deferred.succeed(stop, undefined)
  yield* Fiber.await(fiber)
  return micros(t0, nanos())
})

/** requestInterrupt → runEvent has failed and its `interrupted` event is on the bus (µs). */
const stopSample = Effect.gen(function*() {
  const { context, scope } = yield* freshExecution
  const state = Context.get(context, ExecutionState)
  const bus = Context.get(context, EventBus)
  const started = yield* Deferred.make<void>()
  const fiber = yield* Effect.forkChild(Effect.provideContext(runEvent(blocked, started), context), {
    startImmediately: true
  })
  yield* Deferred.await(started)
  const t0 = nanos()
  yield* state.requestInterrupt({ reason: "user_cancelled" })
  yield* Fiber.await(fiber)
  const t1 = nanos()
  const history = yield* bus.history
  if (!history.some((e) => e._tag === "ExecutionEvent" && e.status === "interrupted")) {
    return yield* Effect.die(new Error("no interrupted event"))
  }
  yield* Scope.close(scope, Exit.void)
  return micros(t0, t1)
})

/** The two, one after the other, `runs` times after `warmup` pairs. */
const stopLatencies = (runs: number, warmup: number) =>
  Effect.gen(function*() {
    const race: Array<number> = []
    const stop: Array<number> = []
    for (let i = 0; i < warmup + runs; i++) {
      const r = yield* raceSample
      const s = yield* stopSample
      if (i >= warmup) {
        race.push(r)
        stop.push(s)
      }
    }
    return { race, stop }
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

// -----------------------------------------------------------------------------
// Mass cancel
// -----------------------------------------------------------------------------

/**
 * Interrupt a group of `n` branches, each in a 1 h sleep: until `parallel` returned and no branch is
 * alive (ms). Branches are bare effects, or `runEvent` calls: then every branch must have published
 * exactly one `interrupted` event.
 */
const parallelCancel = (n: number, kind: "effect" | "runEvent") =>
  Effect.gen(function*() {
    const { context, scope } = yield* freshExecution
    const state = Context.get(context, ExecutionState)
    const bus = Context.get(context, EventBus)
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
    if (kind === "runEvent") {
      const interrupted = (yield* bus.history).filter((e) => e._tag === "ExecutionEvent" && e.status === "interrupted")
      if (interrupted.length !== n || new Set(interrupted.map((e) => (e as { occurrence: number }).occurrence)).size !== n) {
        return yield* Effect.die(new Error(`${interrupted.length} interrupted events for ${n} branches`))
      }
    }
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

/** `samples` rounds of: FiberSet.clear, a bare group, a runEvent group (ms each), after one warm-up round. */
const massCancel = (n: number, samples: number) =>
  Effect.gen(function*() {
    const clear: Array<number> = []
    const bare: Array<number> = []
    const events: Array<number> = []
    for (let i = 0; i <= samples; i++) {
      const c = yield* fiberSetClear(n)
      const b = yield* parallelCancel(n, "effect")
      const e = yield* parallelCancel(n, "runEvent")
      if (i > 0) {
        clear.push(c)
        bare.push(b)
        events.push(e)
      }
    }
    return { clear: median(clear), bare: median(bare), events: median(events) }
  })

// -----------------------------------------------------------------------------
// The cost of runEvent
// -----------------------------------------------------------------------------

const handler = (n: number) => Effect.succeed(n + 1)
const trivial = Actor.tool("trivial", handler)

/** The floor: what a `runEvent` is made of, from bare primitives (fork and await one fiber, two events). */
const floorLoop = (n: number, pubsub: PubSub.PubSub<unknown>) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) {
      yield* PubSub.publish(pubsub, { _tag: "ExecutionEvent", status: "started", i })
      const fiber = yield* Effect.forkChild(handler(i), { startImmediately: true })
      yield* Fiber.join(fiber)
      yield* PubSub.publish(pubsub, { _tag: "ExecutionEvent", status: "completed", i })
    }
  })

const eventLoop = (n: number, context: Context.Context<Execution>) =>
  Effect.provideContext(
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* runEvent(trivial, i)
    }),
    context
  )

const directLoop = (n: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* handler(i)
  })

const timed = <E>(n: number, loop: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const t0 = nanos()
    yield* loop
    return Number(nanos() - t0) / n
  })

/**
 * A fresh execution per round, as a program gets it (`ExecutionState.layerWithBus`, its default
 * history), built outside the timed loops; 3 subscribers in the last one.
 */
const overhead = (n: number, rounds: number) =>
  Effect.gen(function*() {
    const pubsub = yield* PubSub.unbounded<unknown>()
    const floor: Array<number> = []
    const zero: Array<number> = []
    const three: Array<number> = []
    const direct: Array<number> = []
    for (let r = 0; r <= rounds; r++) {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Layer.merge(ExecutionState.layerWithBus({ stateId: "bench" }), quiet), scope)
      const withSubscribers = yield* Layer.buildWithScope(Layer.merge(ExecutionState.layerWithBus({ stateId: "bench" }), quiet), scope)
      const bus = Context.get(withSubscribers, EventBus)
      for (let i = 0; i < 3; i++) yield* Scope.provide(bus.subscribe(() => Effect.void), scope)
      const f = yield* timed(n, floorLoop(n, pubsub))
      const z = yield* timed(n, eventLoop(n, context))
      const t = yield* timed(n, eventLoop(n, withSubscribers))
      const d = yield* timed(n, directLoop(n))
      yield* Scope.close(scope, Exit.void)
      if (r > 0) {
        floor.push(f)
        zero.push(z)
        three.push(t)
        direct.push(d)
      }
    }
    return { floor: median(floor), zero: median(zero), three: median(three), direct: median(direct) }
  })

// -----------------------------------------------------------------------------
// Rows
// -----------------------------------------------------------------------------

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  // the lightest first: what a large group leaves for the collector does not weigh on the rest
  // --- runEvent of a trivial handler ------------------------------------------------
  const ROUNDS = 15
  const N = 10_000
  const cost = await Effect.runPromise(overhead(N, ROUNDS))
  rows.push({
    suite,
    name: "floor: fork + await one fiber, publish 2 events on a PubSub (baseline)",
    value: cost.floor / 1000,
    unit: "µs",
    samples: ROUNDS
  })
  rows.push({
    suite,
    name: "runEvent, trivial handler, 0 subscribers",
    value: cost.zero / 1000,
    unit: "µs",
    baseline: "floor",
    ratio: cost.zero / cost.floor,
    target: "≤ 3×",
    ok: cost.zero / cost.floor <= 3,
    samples: ROUNDS
  })
  rows.push({ suite, name: "runEvent events per second, 0 subscribers", value: 1e9 / cost.zero, unit: "/s" })
  rows.push({
    suite,
    name: "runEvent, trivial handler, 3 subscribers",
    value: cost.three / 1000,
    unit: "µs",
    baseline: "0 subscribers",
    ratio: cost.three / cost.zero,
    samples: ROUNDS
  })
  rows.push({
    suite,
    name: "handler called directly",
    value: cost.direct,
    unit: "ns",
    baseline: "runEvent",
    ratio: cost.direct / cost.zero,
    samples: ROUNDS
  })
  await heapUsed()

  // --- stop latency --------------------------------------------------------------
  const RUNS = 2_000
  const { race, stop } = await Effect.runPromise(stopLatencies(RUNS, 200))
  const poll = await Effect.runPromise(polling(40))
  const raceP50 = median(race)
  const raceP99 = percentile(race, 99)
  const stopP50 = median(stop)
  const stopP99 = percentile(stop, 99)
  rows.push({ suite, name: "bare raceFirst(sleep, Deferred.await) p50 (baseline)", value: raceP50, unit: "µs", samples: RUNS })
  rows.push({ suite, name: "bare raceFirst(sleep, Deferred.await) p99 (baseline)", value: raceP99, unit: "µs", samples: RUNS })
  rows.push({
    suite,
    name: `stop latency p50 (${RUNS.toLocaleString("en-US")} runs, interleaved with the race)`,
    value: stopP50,
    unit: "µs",
    baseline: "race p50",
    ratio: stopP50 / raceP50,
    target: "≤ 3×",
    ok: stopP50 / raceP50 <= 3,
    samples: RUNS
  })
  rows.push({
    suite,
    name: `stop latency p99 (${RUNS.toLocaleString("en-US")} runs, interleaved with the race)`,
    value: stopP99,
    unit: "µs",
    baseline: "race p99",
    ratio: stopP99 / raceP99,
    target: "≤ 10×",
    ok: stopP99 / raceP99 <= 10,
    samples: RUNS
  })
  rows.push({ suite, name: "100 ms polling (seed) p50, 40 runs", value: median(poll), unit: "µs", samples: 40 })
  rows.push({ suite, name: "100 ms polling (seed) p99, 40 runs", value: percentile(poll, 99), unit: "µs", samples: 40 })

  await heapUsed()

  // --- mass cancel ----------------------------------------------------------------
  for (const { n, samples } of [{ n: 10_000, samples: 7 }, { n: 100_000, samples: 3 }]) {
    const { bare, clear, events } = await Effect.runPromise(massCancel(n, samples))
    const label = n.toLocaleString("en-US")
    const relative = n === 10_000
    rows.push({
      suite,
      name: `FiberSet.clear, ${label} sleeping fibers (baseline, median of ${samples})`,
      value: clear,
      unit: "ms",
      samples
    })
    for (const [what, value] of [["sleeping branches", bare], ["runEvent branches (+ one interrupted event each)", events]] as const) {
      rows.push({
        suite,
        name: `parallel cancel, ${label} ${what} (median of ${samples})`,
        value,
        unit: "ms",
        baseline: "FiberSet.clear",
        ratio: value / clear,
        target: relative ? "≤ 2×" : "< 1,000 ms",
        ok: relative ? value / clear <= 2 : value < 1000,
        samples
      })
    }
  }

  return rows
}
