/**
 * Language-model benchmarks, over loopback: how long after an interrupt the provider's server sees
 * the streamed request's socket close — an `llm` event over `OpenAiCompat` (fetch underneath) — p50 /
 * p99 over 200 runs, against the floor of a raw `fetch` + `AbortController` on the same server,
 * interleaved in the same run. Both read three streamed tokens before they are stopped; the server
 * (`llm-server.ts`, its own process, as a provider is) then holds the answer open, so only the stop
 * ends it, and reports when the socket closed (epoch ms, the same clock here). Each run starts after a
 * full collection (`--expose-gc`, as `npm run bench` runs), for both sides.
 */
import { spawn } from "node:child_process"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Redacted, References, Scope } from "effect"
import { FetchHttpClient } from "effect/http"
import { EventBus, ExecutionState, Llm, OpenAiCompat, runEvent } from "../src/index.ts"
import { fmt, median, percentile, type Row } from "./harness.ts"

const suite = "llm"
const RUNS = 200
const TOKENS = 3

// the request's id is its prompt: the server names it when its socket closes
const summarise = Llm.actor("summarise", (id: string) => id, { retry: { maxAttempts: 1 } })

const now = () => performance.timeOrigin + performance.now()

// A full collection before each run, for both sides alike: a collection due to the earlier runs
// (ours allocate more: an execution per run) would otherwise land in some measured windows.
const collect = Effect.sync(() => (globalThis as { gc?: () => void }).gc?.())

/** The server process, and the close time of each request id. */
const startServer = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly closed: (id: string) => Promise<number>; readonly stop: () => void }>(
    (resume) => {
      const child = spawn(process.execPath, [new URL("./llm-server.ts", import.meta.url).pathname], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      const closes = new Map<string, number>()
      const waiting = new Map<string, (at: number) => void>()
      let pending = ""
      child.stdout.setEncoding("utf8")
      child.stdout.on("data", (data: string) => {
        pending += data
        let index: number
        while ((index = pending.indexOf("\n")) >= 0) {
          const [what, a, b] = pending.slice(0, index).split(" ")
          pending = pending.slice(index + 1)
          if (what === "port") {
            resume(Effect.succeed({
              url: `http://127.0.0.1:${a}/v1`,
              closed: (id: string) => {
                const at = closes.get(id)
                return at !== undefined ? Promise.resolve(at) : new Promise<number>((r) => waiting.set(id, r))
              },
              stop: () => child.stdin.end()
            }))
          } else if (what === "closed") {
            closes.set(a!, Number(b))
            waiting.get(a!)?.(Number(b))
          }
        }
      })
    }
  ),
  (server) => Effect.sync(() => server.stop())
)

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const scope = Effect.runSync(Scope.make())
  try {
    return await Effect.runPromise(measure.pipe(Scope.provide(scope)))
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const measure = Effect.gen(function*() {
  const server = yield* startServer
  const model = yield* Layer.build(
    OpenAiCompat.layer({ model: "bench", baseUrl: server.url, apiKey: Redacted.make("sk-bench") }).pipe(
      Layer.provide(FetchHttpClient.layer)
    )
  )
  let requests = 0

  // An llm event, interrupted once it streamed three tokens: from requestInterrupt to the server's close.
  const ours = Effect.gen(function*() {
    yield* collect
    const n = requests++
    const runScope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      ExecutionState.layerWithBus({ stateId: `bench-${n}` }).pipe(
        Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error"))
      ),
      runScope
    )
    const bus = Context.get(context, EventBus)
    const seen = yield* Deferred.make<void>()
    let deltas = 0
    yield* bus.subscribe((event) =>
      event._tag === "OutputDelta" && ++deltas === TOKENS ? Deferred.succeed(seen, undefined) : Effect.void
    ).pipe(Scope.provide(runScope))
    const fiber = yield* Effect.forkChild(
      runEvent(summarise, `ours-${n}`).pipe(Effect.provideContext(Context.merge(context, model))),
      { startImmediately: true }
    )
    yield* Deferred.await(seen)
    const t0 = now()
    yield* Context.get(context, ExecutionState).requestInterrupt({ reason: "user_cancelled" })
    const closedAt = yield* Effect.promise(() => server.closed(`ours-${n}`))
    yield* Fiber.await(fiber)
    yield* Scope.close(runScope, Exit.void)
    return closedAt - t0
  })

  // The floor: fetch the same stream, read three tokens, abort.
  const floor = Effect.andThen(collect, Effect.promise(async () => {
    const n = requests++
    const controller = new AbortController()
    const response = await fetch(`${server.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer sk-bench" },
      body: JSON.stringify({ model: "bench", messages: [{ role: "user", content: `floor-${n}` }], stream: true }),
      signal: controller.signal
    })
    const reader = response.body!.getReader()
    const decoder = new TextDecoder()
    let received = ""
    while ((received.match(/^data: /gm) ?? []).length < TOKENS) {
      const { value } = await reader.read()
      received += decoder.decode(value, { stream: true })
    }
    const t0 = now()
    controller.abort()
    const closedAt = await server.closed(`floor-${n}`)
    await reader.cancel().catch(() => undefined)
    return closedAt - t0
  }))

  // warm-up, then interleaved: ours, floor, ours, floor...
  for (let i = 0; i < 20; i++) {
    yield* ours
    yield* floor
  }
  const oursMs: Array<number> = []
  const floorMs: Array<number> = []
  for (let i = 0; i < RUNS; i++) {
    if (i % 2 === 0) {
      oursMs.push(yield* ours)
      floorMs.push(yield* floor)
    } else {
      floorMs.push(yield* floor)
      oursMs.push(yield* ours)
    }
  }

  const rows: Array<Row> = []
  for (const [label, p] of [["p50", 50], ["p99", 99]] as const) {
    const value = percentile(oursMs, p) * 1000
    const base = percentile(floorMs, p) * 1000
    const ratio = value / base
    rows.push({
      suite,
      name: `interrupt → provider socket closed, ${label} (${RUNS} runs)`,
      value,
      unit: "µs",
      baseline: `fetch + AbortController ${fmt(base, "µs")}`,
      ratio,
      target: "≤ 2×",
      ok: ratio <= 2
    })
  }
  const met = rows.every((row) => row.ok === true)
  process.stderr.write(
    `llm: ${met ? "MET" : "MISSED"} — interrupt → socket closed p50 ${(median(oursMs)).toFixed(2)} ms ` +
      `(floor ${median(floorMs).toFixed(2)} ms), p99 ${percentile(oursMs, 99).toFixed(2)} ms ` +
      `(floor ${percentile(floorMs, 99).toFixed(2)} ms)\n`
  )
  return rows
})
