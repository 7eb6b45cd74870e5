/**
 * agent-interrupt side by side with LangGraph.js: same Node, same process, same workloads.
 *
 *   npm --prefix bench/peers ci && npm --prefix bench/peers run bench            (table)
 *   npm --prefix bench/peers run bench -- --json                                  (+ one JSON line)
 *
 * Every figure is measured for both in alternating blocks (LangGraph, ours, LangGraph, ours, ...)
 * after a warm-up, so that GC, JIT and the machine's load hit both alike. Between samples the heap is
 * collected and the process is checked for leftovers: no branch still alive, no timer still armed.
 *
 * Workloads:
 * 1. stop latency: one node / handler awaiting a 1-hour sleep that honours the stop; from the trigger
 *    (`AbortController.abort()` / `requestInterrupt`) until the invoke promise settled / our fiber ended.
 * 2. per step: a sequence of N trivial nodes invoked once / one execution running N `runEvent`
 *    calls of a trivial actor in sequence (execution built and closed inside the timed region).
 * 3. fan-out: N branches (LangGraph `Send`s to a worker node / our `parallel` of N `runEvent`s,
 *    unbounded), each awaiting a 1-hour sleep that honours the stop: time until all N have started,
 *    then the stop, and time until the invoke settled / the group fiber ended.
 */
import { type LangGraphRunnableConfig, Annotation, END, Send, START, StateGraph } from "@langchain/langgraph"
import { Context, Deferred, Effect, Exit, Fiber, Layer, References, Scope } from "effect"
import { readFileSync } from "node:fs"
import os from "node:os"
import { fileURLToPath } from "node:url"
import { Actor, ExecutionState, parallel, runEvent } from "../../src/index.ts"
import { fmt, heapUsed, median, percentile } from "../harness.ts"

// -----------------------------------------------------------------------------
// Settings
// -----------------------------------------------------------------------------

const args = process.argv.slice(2)
const json = args.includes("--json")
/** `--quick`: a smoke test with too few runs to be judged by (fewer than the issue asks for). */
const quick = args.includes("--quick")

const STOP_RUNS = quick ? 200 : 2_000 // per side, in blocks of STOP_BLOCK
const STOP_BLOCK = 100
const STOP_WARMUP = quick ? 50 : 200
const STEPS = 100 // nodes / runEvent calls per sample
const STEP_SAMPLES = quick ? 5 : 15
const FANOUT: ReadonlyArray<{ readonly n: number; readonly samples: number }> = quick
  ? [{ n: 1_000, samples: 2 }]
  : [
    { n: 1_000, samples: 7 },
    { n: 10_000, samples: 5 } // LangGraph needs ≈ 10 s to start 10k branches here: 5 samples ≈ 1 min
  ]
const HOUR_MS = 3_600_000

const nanos = () => process.hrtime.bigint()
const micros = (from: bigint, to: bigint) => Number(to - from) / 1_000
const log = (line: string) => process.stderr.write(`${line}\n`)

// -----------------------------------------------------------------------------
// Hygiene: nothing left running between samples
// -----------------------------------------------------------------------------

const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length
let baselineTimers = 0

/** Collects the heap, then checks that no branch is alive and no timer is armed (waits up to 1 s). */
const clean = async (what: string, alive: () => number): Promise<void> => {
  const deadline = Date.now() + 1_000
  for (;;) {
    await heapUsed() // setImmediate + full GC
    if (alive() === 0 && timers() <= baselineTimers) return
    if (Date.now() > deadline) {
      throw new Error(`${what}: ${alive()} branches still alive, ${timers() - baselineTimers} timers left armed`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

// -----------------------------------------------------------------------------
// LangGraph side
// -----------------------------------------------------------------------------

/** A sleep that honours an AbortSignal: clears its timer and rejects when the signal aborts. */
const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal?.addEventListener("abort", onAbort, { once: true })
  })

const State = Annotation.Root({ count: Annotation<number> })

/** Shared by the blocked nodes of both LangGraph graphs, reset before each sample. */
const lg = { alive: 0, started: 0, target: 0, onAllStarted: () => {} }

const blockedNode = async (_: unknown, config: LangGraphRunnableConfig): Promise<Record<string, never>> => {
  lg.alive++
  if (++lg.started === lg.target) lg.onAllStarted()
  try {
    await sleep(HOUR_MS, config.signal)
  } finally {
    lg.alive--
  }
  return {}
}

/** START → think (1 h sleep honouring the signal) → END */
const lgSingle = new StateGraph(State)
  .addNode("think", blockedNode)
  .addEdge(START, "think")
  .addEdge("think", END)
  .compile()

/** START → n0 → n1 → … → n{STEPS-1} → END, each node adds 1 to `count`. */
const lgSequence = new StateGraph(State)
  .addSequence(
    Array.from({ length: STEPS }, (_, i): [string, (s: { count: number }) => { count: number }] => [
      `n${i}`,
      (s) => ({ count: s.count + 1 })
    ])
  )
  .addEdge(START, "n0")
  .addEdge(`n${STEPS - 1}`, END)
  .compile()

/** START → fanout → `lg.target` × Send("worker") → END; each worker sleeps 1 h honouring the signal. */
const lgFanout = new StateGraph(State)
  .addNode("fanout", () => ({}))
  .addNode("worker", blockedNode)
  .addEdge(START, "fanout")
  .addConditionalEdges("fanout", () => Array.from({ length: lg.target }, (_, i) => new Send("worker", { i })))
  .addEdge("worker", END)
  .compile()

/**
 * Invokes `graph` with a fresh AbortController, waits until `target` blocked nodes have started,
 * aborts, and waits until the invoke promise settled. Returns µs until all started and µs from the
 * abort until settled.
 */
const lgStartAndAbort = async (
  graph: typeof lgSingle | typeof lgFanout,
  target: number
): Promise<{ start: number; stop: number }> => {
  lg.started = 0
  lg.target = target
  const allStarted = new Promise<void>((resolve) => {
    lg.onAllStarted = resolve
  })
  const controller = new AbortController()
  const t0 = nanos()
  const settled = graph.invoke({ count: 0 }, { signal: controller.signal, recursionLimit: 10_000 }).then(
    () => ({ at: nanos(), error: new Error("the invoke completed instead of being aborted") as Error | undefined }),
    (e: unknown) => ({ at: nanos(), error: isAbort(e) ? undefined : (e as Error) })
  )
  const early = await Promise.race([allStarted.then(() => undefined), settled])
  if (early !== undefined) {
    throw new Error(`the LangGraph invoke settled before ${target} nodes started (${lg.started} did)`, {
      cause: early.error
    })
  }
  const t1 = nanos()
  controller.abort()
  const { at: t2, error } = await settled
  if (error !== undefined) throw error
  // the figure must cover the branches' teardown, as ours does: every node has ended by now
  if (lg.alive !== 0) throw new Error(`${lg.alive} LangGraph nodes still running after the invoke settled`)
  return { start: micros(t0, t1), stop: micros(t1, t2) }
}

const isAbort = (e: unknown) => e instanceof Error && (e.name === "AbortError" || e.message === "Abort")

const lgStopLatency = async (runs: number): Promise<Array<number>> => {
  const out: Array<number> = []
  for (let i = 0; i < runs; i++) out.push((await lgStartAndAbort(lgSingle, 1)).stop)
  await clean("LangGraph stop latency", () => lg.alive)
  return out
}

const lgPerStep = async (): Promise<number> => {
  const t0 = nanos()
  const out = await lgSequence.invoke({ count: 0 }, { recursionLimit: 10_000 })
  const us = micros(t0, nanos()) / STEPS
  if (out.count !== STEPS) throw new Error(`LangGraph sequence counted ${out.count}, expected ${STEPS}`)
  return us
}

const lgFanoutSample = async (n: number): Promise<{ start: number; stop: number }> => {
  const r = await lgStartAndAbort(lgFanout, n)
  await clean(`LangGraph fan-out ${n}`, () => lg.alive)
  return { start: r.start / 1_000, stop: r.stop / 1_000 }
}

// -----------------------------------------------------------------------------
// agent-interrupt side
// -----------------------------------------------------------------------------

/**
 * A fresh execution, as a program gets it: `ExecutionState.layerWithBus` (the interrupt state, its
 * own EventBus, and whatever else `runEvent` needs from the execution). Logs below Error are off:
 * a 10k group overflows the bus's default history (10,000 events), which warns once.
 */
const freshExecution = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const layer = Layer.merge(
    ExecutionState.layerWithBus({ stateId: "peers" }),
    Layer.succeed(References.MinimumLogLevel, "Error")
  )
  const context = yield* Layer.buildWithScope(layer, scope)
  return { context, scope }
})

/** Shared by our blocked handlers, reset before each sample. */
const ours = {
  alive: 0,
  started: 0,
  target: 0,
  allStarted: undefined as Deferred.Deferred<void> | undefined
}

const blocked = Actor.llm("think", (_: number) =>
  Effect.suspend(() => {
    ours.alive++
    const all = ++ours.started === ours.target && ours.allStarted !== undefined
      ? Deferred.succeed(ours.allStarted, undefined)
      : Effect.void
    return Effect.andThen(all, Effect.sleep(HOUR_MS))
  }).pipe(Effect.ensuring(Effect.sync(() => {
    ours.alive--
  }))))

const trivial = Actor.tool("step", (n: number) => Effect.succeed(n + 1))

/**
 * Builds an execution, runs `branches` blocked handlers (one `runEvent`, or a `parallel` group of
 * them, unbounded), waits until all started, requests the interrupt, waits until the fiber ended.
 * Returns µs until all started (execution built, branches created and started) and µs from the
 * request until the fiber ended.
 */
const oursStartAndInterrupt = (branches: number, group: boolean) =>
  Effect.gen(function*() {
    ours.started = 0
    ours.target = branches
    const allStarted = yield* Deferred.make<void>()
    ours.allStarted = allStarted
    const t0 = nanos()
    const { context, scope } = yield* freshExecution
    const state = Context.get(context, ExecutionState)
    const work = group
      ? parallel(Array.from({ length: branches }, (_, i) => runEvent(blocked, i)), { concurrency: "unbounded" })
      : runEvent(blocked, 0)
    const fiber = yield* Effect.forkChild(Effect.provideContext(work, context), { startImmediately: true })
    const first = yield* Effect.raceFirst(Effect.as(Deferred.await(allStarted), undefined), Fiber.await(fiber))
    if (first !== undefined) {
      return yield* Effect.die(new Error(`our work ended before ${branches} handlers started (${ours.started} did)`, {
        cause: first
      }))
    }
    const t1 = nanos()
    yield* state.requestInterrupt({ reason: "user_cancelled" })
    const exit = yield* Fiber.await(fiber)
    const t2 = nanos()
    if (Exit.isSuccess(exit)) return yield* Effect.die(new Error("the work completed instead of being interrupted"))
    const alive = ours.alive
    if (alive !== 0) return yield* Effect.die(new Error(`${alive} handlers still alive after the fiber ended`))
    yield* Scope.close(scope, Exit.void)
    return { start: micros(t0, t1), stop: micros(t1, t2) }
  })

const oursStopLatency = async (runs: number): Promise<Array<number>> => {
  const out = await Effect.runPromise(Effect.gen(function*() {
    const out: Array<number> = []
    for (let i = 0; i < runs; i++) out.push((yield* oursStartAndInterrupt(1, false)).stop)
    return out
  }))
  await clean("agent-interrupt stop latency", () => ours.alive)
  return out
}

const oursPerStep = (): Promise<number> =>
  Effect.runPromise(Effect.gen(function*() {
    const t0 = nanos()
    const { context, scope } = yield* freshExecution
    let count = 0
    yield* Effect.provideContext(
      Effect.gen(function*() {
        for (let i = 0; i < STEPS; i++) count = yield* runEvent(trivial, count)
      }),
      context
    )
    yield* Scope.close(scope, Exit.void)
    const us = micros(t0, nanos()) / STEPS
    if (count !== STEPS) return yield* Effect.die(new Error(`runEvent sequence counted ${count}, expected ${STEPS}`))
    return us
  }))

const oursFanoutSample = async (n: number): Promise<{ start: number; stop: number }> => {
  const r = await Effect.runPromise(oursStartAndInterrupt(n, true))
  await clean(`agent-interrupt fan-out ${n}`, () => ours.alive)
  return { start: r.start / 1_000, stop: r.stop / 1_000 }
}

// -----------------------------------------------------------------------------
// Rows and output
// -----------------------------------------------------------------------------

const TARGET = "faster than LangGraph"

export interface PeerRow {
  readonly suite: string
  readonly name: string
  readonly unit: string
  /** agent-interrupt's figure (also as `value`, the main bench's field) */
  readonly ours: number
  readonly value: number
  readonly langgraph: number
  readonly baseline: "LangGraph"
  /** ours / LangGraph: below 1 is faster */
  readonly ratio: number
  readonly target: string
  readonly ok: boolean
  readonly status: "MET" | "MISSED"
  /** how many runs or samples stand behind each side's figure */
  readonly samples: { readonly ours: number; readonly langgraph: number }
  /** the raw samples, where there are few */
  readonly raw?: { readonly ours: ReadonlyArray<number>; readonly langgraph: ReadonlyArray<number> }
}

const row = (
  suite: string,
  name: string,
  unit: string,
  oursValue: number,
  lgValue: number,
  samples: { ours: number; langgraph: number },
  raw?: { ours: ReadonlyArray<number>; langgraph: ReadonlyArray<number> }
): PeerRow => {
  const ok = oursValue < lgValue
  const round = (xs: ReadonlyArray<number>) => xs.map((x) => Math.round(x * 1_000) / 1_000)
  return {
    suite,
    name,
    unit,
    ours: oursValue,
    value: oursValue,
    langgraph: lgValue,
    baseline: "LangGraph",
    ratio: oursValue / lgValue,
    target: TARGET,
    ok,
    status: ok ? "MET" : "MISSED",
    samples,
    ...(raw === undefined ? {} : { raw: { ours: round(raw.ours), langgraph: round(raw.langgraph) } })
  }
}

const ratioText = (r: number) => r >= 0.01 ? `${r.toFixed(2)}×` : `${r.toFixed(4)}×`

const printTable = (rows: ReadonlyArray<PeerRow>): string => {
  const header = ["suite", "figure", "ours", "LangGraph", "ratio", "target", ""]
  const body = rows.map((r) => [
    r.suite,
    r.name,
    fmt(r.ours, r.unit),
    fmt(r.langgraph, r.unit),
    ratioText(r.ratio),
    r.target,
    r.status
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)))
  const line = (cells: ReadonlyArray<string>) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n")
}

/** The version of an installed package, found from where `specifier` resolves. */
const versionOf = (name: string, specifier: string): string => {
  const file = fileURLToPath(import.meta.resolve(specifier))
  const marker = `/node_modules/${name}/`
  const at = file.lastIndexOf(marker)
  if (at < 0) return "unknown"
  const pkg = JSON.parse(readFileSync(`${file.slice(0, at + marker.length)}package.json`, "utf8")) as {
    version: string
  }
  return pkg.version
}

// -----------------------------------------------------------------------------
// Main
// -----------------------------------------------------------------------------

const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100)

const main = async () => {
  if (process.env["LANGSMITH_TRACING"] === "true" || process.env["LANGCHAIN_TRACING_V2"] === "true") {
    throw new Error("unset LANGSMITH_TRACING / LANGCHAIN_TRACING_V2: tracing would be measured too")
  }
  const versions = {
    node: process.version,
    effect: versionOf("effect", "effect"),
    langgraph: versionOf("@langchain/langgraph", "@langchain/langgraph"),
    langchainCore: versionOf("@langchain/core", "@langchain/core")
  }
  const loadStart = load()
  const started = Date.now()
  log(
    `node ${versions.node}, effect ${versions.effect}, @langchain/langgraph ${versions.langgraph}, ` +
      `@langchain/core ${versions.langchainCore}; ${os.cpus().length} cores, load ${loadStart.join(" ")}`
  )
  await heapUsed()
  baselineTimers = timers()
  const rows: Array<PeerRow> = []

  // 1. stop latency
  log(`stop latency: warm-up, then ${STOP_RUNS} runs each in blocks of ${STOP_BLOCK}...`)
  await lgStopLatency(STOP_WARMUP)
  await oursStopLatency(STOP_WARMUP)
  const stopLg: Array<number> = []
  const stopOurs: Array<number> = []
  for (let done = 0; done < STOP_RUNS; done += STOP_BLOCK) {
    stopLg.push(...await lgStopLatency(STOP_BLOCK))
    stopOurs.push(...await oursStopLatency(STOP_BLOCK))
  }
  const stopSamples = { ours: stopOurs.length, langgraph: stopLg.length }
  rows.push(row("stop", `stop latency p50 (${STOP_RUNS} runs)`, "µs", median(stopOurs), median(stopLg), stopSamples))
  rows.push(
    row("stop", `stop latency p99 (${STOP_RUNS} runs)`, "µs", percentile(stopOurs, 99), percentile(stopLg, 99), stopSamples)
  )

  // 2. per step
  log(`per step: ${STEPS} steps, warm-up, then ${STEP_SAMPLES} samples each...`)
  for (let i = 0; i < 3; i++) {
    await lgPerStep()
    await oursPerStep()
  }
  const stepLg: Array<number> = []
  const stepOurs: Array<number> = []
  for (let i = 0; i < STEP_SAMPLES; i++) {
    await heapUsed()
    stepLg.push(await lgPerStep())
    await heapUsed()
    stepOurs.push(await oursPerStep())
  }
  rows.push(
    row(
      "step",
      `per step, ${STEPS} trivial nodes / runEvent calls (median of ${STEP_SAMPLES})`,
      "µs",
      median(stepOurs),
      median(stepLg),
      { ours: stepOurs.length, langgraph: stepLg.length },
      { ours: stepOurs, langgraph: stepLg }
    )
  )

  // 3. fan-out start and cancel
  log("fan-out: warm-up at 1,000...")
  await lgFanoutSample(1_000)
  await oursFanoutSample(1_000)
  for (const { n, samples } of FANOUT) {
    const lgStarts: Array<number> = []
    const lgStops: Array<number> = []
    const ourStarts: Array<number> = []
    const ourStops: Array<number> = []
    for (let i = 0; i < samples; i++) {
      const a = await lgFanoutSample(n)
      lgStarts.push(a.start)
      lgStops.push(a.stop)
      const b = await oursFanoutSample(n)
      ourStarts.push(b.start)
      ourStops.push(b.stop)
      log(
        `fan-out ${n.toLocaleString("en-US")} sample ${i + 1}/${samples}: LangGraph start ${fmt(a.start, "ms")}, ` +
          `cancel ${fmt(a.stop, "ms")}; ours start ${fmt(b.start, "ms")}, cancel ${fmt(b.stop, "ms")}`
      )
    }
    const count = { ours: samples, langgraph: samples }
    const label = n.toLocaleString("en-US")
    rows.push(
      row(
        "fan-out",
        `start ${label} branches, until all started (median of ${samples})`,
        "ms",
        median(ourStarts),
        median(lgStarts),
        count,
        { ours: ourStarts, langgraph: lgStarts }
      )
    )
    rows.push(
      row(
        "fan-out",
        `cancel ${label} branches, until invoke / group ended (median of ${samples})`,
        "ms",
        median(ourStops),
        median(lgStops),
        count,
        { ours: ourStops, langgraph: lgStops }
      )
    )
  }

  const loadEnd = load()
  const seconds = Math.round((Date.now() - started) / 1_000)
  console.log(printTable(rows))
  console.log(
    `\nours = agent-interrupt (src/, effect ${versions.effect}); LangGraph = @langchain/langgraph ${versions.langgraph} ` +
      `(@langchain/core ${versions.langchainCore}); node ${versions.node}; ratio = ours / LangGraph.\n` +
      `load average (1, 5, 15 min) at start ${loadStart.join(" ")}, at end ${loadEnd.join(" ")}; ` +
      `${os.cpus().length} cores; ${seconds} s. ` +
      `${rows.filter((r) => r.ok).length} of ${rows.length} figures MET.` +
      (quick ? "\n--quick: a smoke test with fewer runs and samples than the figures are judged by." : "")
  )
  if (json) {
    console.log(JSON.stringify({
      ...versions,
      date: new Date().toISOString(),
      quick,
      cpus: os.cpus().length,
      loadavg: { start: loadStart, end: loadEnd },
      seconds,
      results: rows
    }))
  }
}

await main()
