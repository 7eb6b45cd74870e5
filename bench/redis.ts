/**
 * Distributed-control benchmarks: cross-process stop latency on loopback Redis.
 *
 * This process is the controller; a child process (this same file, started with
 * `--redis-bench-worker`) is the worker. Each is a control plane of its own on Redis
 * (`RedisExecutions.layerWithStore`), as two machines would be. Interleaved in one run, 300 times:
 *
 * - floor: a raw Redis `PUBLISH` → the message in a node-redis subscriber of the other process;
 * - ours: `executions.interrupt(id)` in the controller → the worker's run stops (a run blocked in
 *   an LLM call; the worker's poll is off, so the request is pushed), for a run the controller has
 *   never seen (as `agent-interrupt interrupt <id>`, the figure with the target) and for one whose
 *   status it read first. The moment is taken in the worker, where the stop happens: when the
 *   blocked call was interrupted (its `interrupted` event is made right after, its `stopLatency`
 *   counting from the interrupt's arrival); when an `events` follower in the worker saw that event
 *   is reported next to it.
 *
 * Times are taken in each process with `performance.timeOrigin + performance.now()`; the offset
 * between the two clocks is calibrated over IPC first (the ping with the smallest round trip) and
 * subtracted. Uses REDIS_URL when set, otherwise starts its own redis-server (as the tests do).
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, ManagedRuntime, References, Schema, Scope, Stream } from "effect"
import { Redis } from "effect/persistence"
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Actor, Executions, runEvent, Workflow } from "../src/index.ts"
import * as RedisConnection from "../src/redis/RedisConnection.ts"
import * as RedisExecutions from "../src/redis/RedisExecutions.ts"
import { RedisServer, testLayer } from "../test/utils/redisServer.ts"
import { median, percentile, type Row } from "./harness.ts"

const suite = "redis"
const WORKER_FLAG = "--redis-bench-worker"
const RUNS = 300
const WARMUP = 20
const now = () => performance.timeOrigin + performance.now()

type ToWorker =
  | { readonly type: "ping"; readonly t: number }
  | { readonly type: "floor-subscribe"; readonly channel: string }
  | { readonly type: "run"; readonly id: string }
  | { readonly type: "exit" }

type FromWorker =
  | { readonly type: "pong"; readonly t: number; readonly tc: number }
  | { readonly type: "floor-ready" }
  | { readonly type: "floor"; readonly message: string; readonly tc: number }
  | { readonly type: "ready"; readonly id: string }
  | { readonly type: "done"; readonly id: string; readonly stopped: number; readonly seen: number; readonly via: string }
  | { readonly type: "failed"; readonly id: string; readonly error: string }

// -----------------------------------------------------------------------------
// Worker (child process)
// -----------------------------------------------------------------------------

const worker = async () => {
  const send = (message: FromWorker) => process.send!(message)
  // when each run's blocked call was interrupted (this process's clock)
  const stops = new Map<string, number>()
  const hold = Workflow.make({
    name: "hold",
    description: "one LLM call that waits for an hour",
    input: Schema.Struct({ id: Schema.String }),
    example: { id: "x" },
    run: (input) =>
      runEvent(
        Actor.llm("think", (id: string) =>
          Effect.andThen(
            Effect.sync(() => send({ type: "ready", id })),
            Effect.sleep("1 hour").pipe(Effect.onInterrupt(() => Effect.sync(() => void stops.set(id, now()))))
          )),
        input.id
      )
  })
  const runtime = ManagedRuntime.make(
    RedisExecutions.layerWithStore({ workflows: [Workflow.register(hold)], pollInterval: "1 hour" }).pipe(
      Layer.provideMerge(RedisConnection.layerConfig()),
      Layer.provide(Layer.succeed(References.MinimumLogLevel, "Error"))
    )
  )

  const run = (id: string) =>
    Effect.gen(function*() {
      const executions = yield* Executions
      yield* executions.start("hold", { id }, { stateId: id })
      let seen = Number.NaN
      let via = "?"
      yield* executions.events(id).pipe(
        Stream.runForEach((item) =>
          Effect.sync(() => {
            const event = item.event
            if (event._tag === "InterruptEvent") via = event.via ?? "?"
            if (event._tag === "ExecutionEvent" && event.status === "interrupted" && Number.isNaN(seen)) seen = now()
          })
        )
      )
      send({ type: "done", id, stopped: stops.get(id) ?? Number.NaN, seen, via })
      stops.delete(id)
    }).pipe(Effect.catch((error) => Effect.sync(() => send({ type: "failed", id, error: String(error) }))))

  const floor = (channel: string) =>
    Effect.gen(function*() {
      const { client } = yield* NodeRedis.NodeRedis
      const subscriber = client.duplicate()
      yield* Effect.promise(() => subscriber.connect())
      yield* Effect.promise(() => subscriber.subscribe(channel, (message) => send({ type: "floor", message, tc: now() })))
      send({ type: "floor-ready" })
    })

  process.on("message", (message: ToWorker) => {
    switch (message.type) {
      case "ping":
        return send({ type: "pong", t: message.t, tc: now() })
      case "floor-subscribe":
        return void runtime.runPromise(floor(message.channel))
      case "run":
        return void runtime.runPromise(run(message.id))
      case "exit":
        return void runtime.dispose().then(() => process.exit(0))
    }
  })
}

// -----------------------------------------------------------------------------
// Controller (this process)
// -----------------------------------------------------------------------------

/** Sends a message and resolves with the first reply `accept` takes (fails after 10 s). */
const ask = <A>(child: ChildProcess, message: ToWorker | undefined, accept: (reply: FromWorker) => A | undefined) =>
  new Promise<A>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off("message", listener)
      reject(new Error(`the worker did not answer ${JSON.stringify(message)}`))
    }, 10_000)
    const listener = (reply: FromWorker) => {
      if (reply.type === "failed") {
        clearTimeout(timer)
        child.off("message", listener)
        return reject(new Error(`the worker's run ${reply.id} failed: ${reply.error}`))
      }
      const value = accept(reply)
      if (value !== undefined) {
        clearTimeout(timer)
        child.off("message", listener)
        resolve(value)
      }
    }
    child.on("message", listener)
    if (message !== undefined) child.send(message)
  })

const spawnWorker = (env: Record<string, string>) =>
  fork(fileURLToPath(import.meta.url), [WORKER_FLAG], {
    execPath: process.execPath,
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })

/** The worker's clock minus ours (ms), from the ping with the smallest round trip. */
const calibrate = async (child: ChildProcess) => {
  let best = { rtt: Number.POSITIVE_INFINITY, offset: 0 }
  for (let i = 0; i < 300; i++) {
    const t0 = now()
    const pong = await ask(child, { type: "ping", t: t0 }, (r) => r.type === "pong" && r.t === t0 ? r : undefined)
    const t1 = now()
    if (t1 - t0 < best.rtt) best = { rtt: t1 - t0, offset: pong.tc - (t0 + t1) / 2 }
  }
  return best
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const scope = Effect.runSync(Scope.make())
  const quiet = Layer.succeed(References.MinimumLogLevel, "Error")
  const context = await Effect.runPromise(
    Layer.buildWithScope(
      RedisExecutions.layerWithStore().pipe(Layer.provideMerge(testLayer), Layer.provide(quiet)),
      scope
    )
  )
  const server = Context.get(context, RedisServer)
  const redis = Context.get(context, Redis.Redis)
  const executions = Context.get(context, Executions)
  const exec = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
  const child = spawnWorker({ REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix })
  try {
    const clock = await calibrate(child)
    const workerTime = (tc: number) => tc - clock.offset

    const channel = `${server.prefix}bench:floor`
    await ask(child, { type: "floor-subscribe", channel }, (r) => r.type === "floor-ready" ? true : undefined)
    const floor: Array<number> = []
    const ours: Array<number> = []
    const seen: Array<number> = []
    const warm: Array<number> = []
    const vias = new Map<string, number>()
    for (let i = -WARMUP; i < RUNS; i++) {
      const message = `m${i}`
      const heard = ask(child, undefined, (r) => r.type === "floor" && r.message === message ? r.tc : undefined)
      const t0 = now()
      await exec(redis.send("PUBLISH", channel, message))
      const floorMs = workerTime(await heard) - t0

      // cold: the controller has never seen the run (as `agent-interrupt interrupt <id>`); warm: it
      // read the run's status first (as a page that shows it)
      const stopOne = async (warm: boolean) => {
        const id = `bench-${i + WARMUP}-${warm ? "w" : "c"}-${globalThis.crypto.randomUUID().slice(0, 6)}`
        await ask(child, { type: "run", id }, (r) => r.type === "ready" && r.id === id ? true : undefined)
        if (warm) await exec(executions.get(id))
        const done = ask(child, undefined, (r) => r.type === "done" && r.id === id ? r : undefined)
        const t1 = now()
        await exec(executions.interrupt(id, { reason: "user_cancelled", triggeredBy: "bench" }))
        const stop = await done
        vias.set(stop.via, (vias.get(stop.via) ?? 0) + (i >= 0 ? 1 : 0))
        return { stopped: (workerTime(stop.stopped) - t1) * 1000, seen: (workerTime(stop.seen) - t1) * 1000 }
      }
      const cold = await stopOne(false)
      const hot = await stopOne(true)
      if (i >= 0) {
        floor.push(floorMs * 1000)
        ours.push(cold.stopped)
        seen.push(cold.seen)
        warm.push(hot.stopped)
      }
    }

    const floorP99 = percentile(floor, 99)
    const oursP99 = percentile(ours, 99)
    const delivered = [...vias].map(([via, n]) => `${n} ${via}`).join(", ")
    return [
      {
        suite,
        name: `clock offset between the processes (round trip ${(clock.rtt * 1000).toFixed(0)} µs)`,
        value: clock.offset * 1000,
        unit: "µs"
      },
      { suite, name: `raw PUBLISH → message, one way p50 (${RUNS} runs)`, value: median(floor), unit: "µs" },
      { suite, name: "raw PUBLISH → message, one way p99 (floor)", value: floorP99, unit: "µs" },
      {
        suite,
        name: `executions.interrupt → worker's run stopped p50 (${RUNS} runs)`,
        value: median(ours),
        unit: "µs",
        baseline: "floor p50",
        ratio: median(ours) / median(floor)
      },
      {
        suite,
        name: `executions.interrupt → worker's run stopped p99 (${RUNS} runs)`,
        value: oursP99,
        unit: "µs",
        baseline: "floor p99",
        ratio: oursP99 / floorP99,
        target: "≤ 2 ms, ≤ 4× floor",
        ok: oursP99 <= 2000 && oursP99 / floorP99 <= 4
      },
      {
        suite,
        name: "… the same, the controller having read the run's status first p50",
        value: median(warm),
        unit: "µs",
        baseline: "floor p50",
        ratio: median(warm) / median(floor)
      },
      {
        suite,
        name: "… the same, the controller having read the run's status first p99",
        value: percentile(warm, 99),
        unit: "µs",
        baseline: "floor p99",
        ratio: percentile(warm, 99) / floorP99
      },
      {
        suite,
        name: `… its interrupted event seen by a follower in the worker p99 (delivered: ${delivered})`,
        value: percentile(seen, 99),
        unit: "µs",
        baseline: "floor p99",
        ratio: percentile(seen, 99) / floorP99
      }
    ]
  } finally {
    child.send({ type: "exit" })
    await new Promise((resolve) => child.once("exit", resolve))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

if (process.argv.includes(WORKER_FLAG)) void worker()
