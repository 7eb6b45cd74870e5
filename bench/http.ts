/**
 * HTTP benchmarks, over loopback: how long an interrupt sent over HTTP takes to come back as the
 * `interrupted` Server-Sent Event of the run (p50 / p99 over 500 runs), against one plain request
 * as the floor; and one run watched by 200 concurrent SSE clients (in a child process): every client
 * receives every event, and what each costs the server's heap.
 */
import { spawn } from "node:child_process"
import { Context, Effect, Exit, Layer, Redacted, References, Schema, Scope } from "effect"
import { HttpServer } from "effect/http"
import { ExecutionStarted } from "../src/http/Api.ts"
import * as Server from "../src/http/Server.ts"
import { CheckpointStore, Executions, StopPolicy } from "../src/index.ts"
import { freshGate, openGate, testWorkflows } from "../test/utils/workflows.ts"
import { heapUsed, median, percentile, type Row } from "./harness.ts"

const suite = "http"
const TOKEN = "bench-token-0123456789abcdefghij"
const RUNS = 500
const CLIENTS = 200

// -----------------------------------------------------------------------------
// Server
// -----------------------------------------------------------------------------

// The test workflows: `gated` (prepare → wait for its gate → finish) holds at its `wait` step until
// the gate opens; a gate never opened holds it until interrupted.
const serverLayer = Server.layer({
  port: 0,
  auth: { credentials: [{ token: Redacted.make(TOKEN), caller: "bench" }] },
  interruptRateLimit: { limit: 1_000_000, window: "1 minute" }
}).pipe(
  Layer.provideMerge(Executions.layerLocal({
    workflows: testWorkflows,
    stopPolicy: { system_shutdown: StopPolicy.abort() }
  })),
  Layer.provideMerge(CheckpointStore.layerMemory),
  Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
)

// -----------------------------------------------------------------------------
// Client helpers (plain fetch, as any client would)
// -----------------------------------------------------------------------------

const auth = { authorization: `Bearer ${TOKEN}` }

const post = async (url: string, body?: unknown) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body)
  })
  return { status: response.status, json: await response.json() as unknown }
}

const decodeStarted = Schema.decodeUnknownSync(ExecutionStarted)

/** Starts a `gated` run held by `gate`: its execution id. */
const startGated = async (url: string, gate: string) => {
  const started = await post(`${url}/api/executions`, { workflow: "gated", input: { gate } })
  if (started.status !== 201) throw new Error(`start answered ${started.status}: ${JSON.stringify(started.json)}`)
  return decodeStarted(started.json).executionId
}

/** Opens the run's event stream; `waitFor(test)` resolves when a line passing `test` arrives. */
const openEvents = async (url: string, id: string) => {
  const controller = new AbortController()
  const response = await fetch(`${url}/api/executions/${id}/events`, { headers: auth, signal: controller.signal })
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  const waitFor = async (test: (line: string) => boolean, what: string): Promise<void> => {
    for (;;) {
      let index: number
      while ((index = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, index)
        buffer = buffer.slice(index + 1)
        if (test(line)) return
      }
      const chunk = await reader.read()
      if (chunk.done) throw new Error(`stream ended before ${what}`)
      buffer += chunk.value
    }
  }
  return { waitFor, close: () => controller.abort() }
}

// The `wait` step started: the run is held, and the stream is live.
const waiting = (line: string) =>
  line.startsWith("data: ") && line.includes("\"actor\":\"wait\"") && line.includes("\"status\":\"started\"")

// -----------------------------------------------------------------------------
// 1. HTTP interrupt → SSE `interrupted`
// -----------------------------------------------------------------------------

const interruptLatency = async (url: string) => {
  const toSse: Array<number> = []
  const roundTrip: Array<number> = []
  const health: Array<number> = []
  for (let i = 0; i < RUNS + 20; i++) {
    const id = await startGated(url, freshGate("hold")) // its gate is never opened
    const events = await openEvents(url, id)
    await events.waitFor(waiting, "the wait step")
    const h0 = performance.now()
    await (await fetch(`${url}/health`)).arrayBuffer()
    const h1 = performance.now()
    const t0 = performance.now()
    const interrupted = events.waitFor((line) => line === "event: interrupted", "the interrupt").then(() => performance.now())
    const reply = await post(`${url}/api/executions/${id}/interrupt`, { message: "bench" })
    const t1 = performance.now()
    if (reply.status !== 202) throw new Error(`interrupt answered ${reply.status}`)
    const t2 = await interrupted
    events.close()
    if (i >= 20) { // warm-up runs are not counted
      toSse.push(t2 - t0)
      roundTrip.push(t1 - t0)
      health.push(h1 - h0)
    }
  }
  return { toSse, roundTrip, health }
}

// -----------------------------------------------------------------------------
// 2. 200 concurrent SSE clients on one run (clients in a child process)
// -----------------------------------------------------------------------------

// The clients: connect all, say "ready" once each has its first bytes, read to the end, report ids.
const clientScript = `
const [url, token, id, n] = process.argv.slice(1)
const clients = Array.from({ length: Number(n) }, async () => {
  const response = await fetch(url + "/api/executions/" + id + "/events", { headers: { authorization: "Bearer " + token } })
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  const ids = []
  let buffer = ""
  let first = true
  let resolveReady
  const ready = new Promise((r) => (resolveReady = r))
  const done = (async () => {
    for (;;) {
      const chunk = await reader.read()
      if (first) { first = false; resolveReady() }
      if (chunk.done) return ids
      buffer += chunk.value
      let i
      while ((i = buffer.indexOf("\\n")) >= 0) {
        const line = buffer.slice(0, i)
        buffer = buffer.slice(i + 1)
        if (line.startsWith("id: ")) ids.push(Number(line.slice(4)))
      }
    }
  })()
  return { ready, done }
})
const all = await Promise.all(clients)
await Promise.all(all.map((c) => c.ready))
process.stdout.write("ready\\n")
const t0 = Date.now()
const results = await Promise.all(all.map((c) => c.done))
process.stdout.write(JSON.stringify({ results, ms: Date.now() - t0 }) + "\\n")
`

const fanOut = async (url: string, status: (id: string) => Promise<{ watchers: number; events: number }>) => {
  const gate = freshGate("fanout")
  const id = await startGated(url, gate)
  const before = await heapUsed()
  const child = spawn(process.execPath, ["--input-type=module", "-e", clientScript, url, TOKEN, id, String(CLIENTS)], {
    stdio: ["ignore", "pipe", "inherit"]
  })
  const lines: Array<string> = []
  const waiters: Array<() => void> = []
  let pending = ""
  child.stdout.setEncoding("utf8")
  child.stdout.on("data", (chunk: string) => {
    pending += chunk
    let i
    while ((i = pending.indexOf("\n")) >= 0) {
      lines.push(pending.slice(0, i))
      pending = pending.slice(i + 1)
      waiters.splice(0).forEach((w) => w())
    }
  })
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((resolve) => waiters.push(resolve))
    return lines.shift()!
  }
  if ((await nextLine()) !== "ready") throw new Error("the clients did not connect")
  const connected = await status(id)
  const after = await heapUsed()
  const t0 = performance.now()
  await Effect.runPromise(openGate(gate))
  const report = JSON.parse(await nextLine()) as { readonly results: ReadonlyArray<ReadonlyArray<number>> }
  const ms = performance.now() - t0
  child.kill()
  const final = await status(id)
  const expected = Array.from({ length: final.events }, (_, i) => i + 1).join(",")
  const complete = report.results.filter((ids) => ids.join(",") === expected).length
  return {
    watchers: connected.watchers,
    perClient: (after - before) / CLIENTS,
    complete,
    events: final.events,
    ms,
    left: final.watchers
  }
}

// -----------------------------------------------------------------------------

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  const scope = await Effect.runPromise(Scope.make())
  try {
    const context = await Effect.runPromise(Layer.buildWithScope(serverLayer, scope))
    const url = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
    const executions = Context.get(context, Executions)
    const status = (id: string) =>
      Effect.runPromise(Effect.map(executions.get(id), (info) => ({ watchers: info.watchers, events: info.lastSequence })))

    const { health, roundTrip, toSse } = await interruptLatency(url)
    const healthP99 = percentile(health, 99)
    rows.push({ suite, name: "GET /health round trip p50", value: median(health) * 1000, unit: "µs" })
    rows.push({ suite, name: "GET /health round trip p99 (baseline)", value: healthP99 * 1000, unit: "µs" })
    rows.push({ suite, name: `POST interrupt → 202 p50 (${RUNS} runs)`, value: median(roundTrip) * 1000, unit: "µs" })
    rows.push({ suite, name: `POST interrupt → 202 p99 (${RUNS} runs)`, value: percentile(roundTrip, 99) * 1000, unit: "µs" })
    const sseP50 = median(toSse)
    rows.push({
      suite,
      name: `HTTP interrupt → SSE interrupted p50 (${RUNS} runs)`,
      value: sseP50 * 1000,
      unit: "µs",
      baseline: "health p50",
      ratio: sseP50 / median(health),
      target: "≤ 5 ms",
      ok: sseP50 <= 5
    })
    const sseP99 = percentile(toSse, 99)
    rows.push({
      suite,
      name: `HTTP interrupt → SSE interrupted p99 (${RUNS} runs)`,
      value: sseP99 * 1000,
      unit: "µs",
      baseline: "health p99",
      ratio: sseP99 / healthP99,
      target: "≤ 20 ms",
      ok: sseP99 <= 20
    })

    const fan = await fanOut(url, status)
    rows.push({
      suite,
      name: `${CLIENTS} SSE clients on one run: all received every event (${fan.events} events)`,
      value: fan.complete,
      unit: "clients",
      target: `${CLIENTS}/${CLIENTS}`,
      ok: fan.complete === CLIENTS && fan.watchers === CLIENTS
    })
    rows.push({ suite, name: `${CLIENTS} SSE clients: gate open → all saw the end`, value: fan.ms, unit: "ms" })
    rows.push({
      suite,
      name: "server heap per connected SSE client",
      value: fan.perClient,
      unit: "B",
      target: "≤ 64 KiB",
      ok: fan.perClient <= 64 * 1024
    })
    rows.push({
      suite,
      name: "SSE subscriptions left once the stream ended",
      value: fan.left,
      unit: "subscriptions",
      target: "0",
      ok: fan.left === 0
    })
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
  return rows
}
