/**
 * Distributed-control benchmarks: cross-process stop latency on loopback Redis.
 *
 * This process is the controller; a child process (this same file, started with
 * `--redis-bench-worker`) is the worker. Side by side in one run:
 *
 * - floor: a raw Redis `PUBLISH` → the message in a node-redis subscriber of the other process;
 * - push: `interruptRemote(stateId)` → the worker's `interrupted` event (a run blocked in an LLM call);
 * - seed: the request polled by a checker at checkpoints 100 ms apart (no push) → the moment the
 *   checker's answer interrupted the worker's run.
 *
 * Times are taken in each process with `performance.timeOrigin + performance.now()`; the offset
 * between the two clocks is calibrated over IPC first (minimum round trip) and subtracted. The
 * worker's moments are the ones the run itself records (the interrupt's time, plus the event's stop
 * latency), not when a bus subscriber got around to seeing them.
 * Uses REDIS_URL when set, otherwise starts its own redis-server (as the tests do).
 */
import { NodeRedis } from "@effect/platform-node"
import { Clock, Context, Deferred, Effect, Exit, Layer, ManagedRuntime, Option, References, Scope } from "effect"
import { Redis } from "effect/persistence"
import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Actor, checkInterrupt, type ExecutionState, Run, runEvent } from "../src/index.ts"
import * as RedisConnection from "../src/redis/RedisConnection.ts"
import * as RedisWorker from "../src/redis/RedisWorker.ts"
import { decodeMessage, interruptRemote } from "../src/redis/RemoteInterrupt.ts"
import * as Keys from "../src/redis/Keys.ts"
import { RedisServer, testLayer } from "../test/utils/redisServer.ts"
import { median, percentile, type Row } from "./harness.ts"

const suite = "redis"
const WORKER_FLAG = "--redis-bench-worker"
const now = () => performance.timeOrigin + performance.now()

type ToWorker =
  | { readonly type: "ping"; readonly t: number }
  | { readonly type: "floor-subscribe"; readonly channel: string }
  | { readonly type: "push"; readonly id: string }
  | { readonly type: "poll"; readonly id: string }
  | { readonly type: "exit" }

type FromWorker =
  | { readonly type: "pong"; readonly t: number; readonly tc: number }
  | { readonly type: "floor-ready" }
  | { readonly type: "floor"; readonly message: string; readonly tc: number }
  | { readonly type: "ready"; readonly id: string }
  | { readonly type: "done"; readonly id: string; readonly tc: number }

// -----------------------------------------------------------------------------
// Worker (child process)
// -----------------------------------------------------------------------------

const worker = async () => {
  const send = (message: FromWorker) => process.send!(message)
  const runtime = ManagedRuntime.make(
    RedisConnection.layerConfig().pipe(Layer.merge(Layer.succeed(References.MinimumLogLevel, "Error")))
  )
  const blocked = Actor.llm("think", (started: Deferred.Deferred<void>) =>
    Effect.andThen(Deferred.succeed(started, undefined), Effect.sleep("1 hour")))

  // Effect's wall clock is a fixed origin plus hrtime: its offset to `now()` is constant in a process.
  const effectOffset = Effect.map(Clock.currentTimeNanos, (nanos) => Number(nanos) / 1e6 - now())

  // push: a Redis worker whose run is blocked in an LLM call. The moment its `interrupted` event was
  // published is the moment of the interrupt plus the event's own stop latency (Effect's clock).
  const push = (id: string) =>
    Effect.scoped(Effect.gen(function*() {
      let stopLatency = Number.NaN
      let state: ExecutionState["Service"] | undefined
      const started = yield* Deferred.make<void>()
      const attached = yield* RedisWorker.attach(id, { pollInterval: "1 hour" })
      yield* Effect.forkScoped(Effect.andThen(Deferred.await(started), Effect.sync(() => send({ type: "ready", id }))))
      yield* Run.run(runEvent(blocked, started), {
        ...attached.runOptions,
        onStart: (execution) => {
          state = execution.state
          return attached.runOptions.onStart(execution)
        },
        subscribers: [(event) =>
          Effect.sync(() => {
            if (Number.isNaN(stopLatency) && event._tag === "ExecutionEvent" && event.status === "interrupted") {
              stopLatency = event.stopLatency ?? Number.NaN
            }
          })]
      })
      const at = Option.getOrThrow(yield* state!.interruptedAt)
      send({ type: "done", id, tc: at + stopLatency - (yield* effectOffset) })
    }))

  // the seed's approach: a loop with a checkpoint every 100 ms, the checker reads the key each time;
  // the moment the checker's answer interrupted the run
  const poll = (id: string) =>
    Effect.gen(function*() {
      let state: ExecutionState["Service"] | undefined
      const redis = yield* Redis.Redis
      const key = Keys.make(yield* Keys.KeyPrefix).interrupt(id)
      const checker = () =>
        Effect.flatMap(redis.send<string | null>("GET", key), (raw) =>
          raw === null ? Effect.succeed(undefined) : Effect.map(decodeMessage(raw), (request) => request.signal))
      const loop = Effect.gen(function*() {
        send({ type: "ready", id })
        while (true) {
          yield* checkInterrupt
          yield* Effect.sleep("100 millis")
        }
      })
      yield* Run.run(loop, {
        stateId: id,
        checker,
        onStart: (execution) => Effect.sync(() => void (state = execution.state))
      })
      yield* redis.send("DEL", key)
      const at = Option.getOrThrow(yield* state!.interruptedAt)
      send({ type: "done", id, tc: at - (yield* effectOffset) })
    })

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
      case "push":
        return void runtime.runPromise(push(message.id))
      case "poll":
        return void runtime.runPromise(poll(message.id))
      case "exit":
        return void runtime.dispose().then(() => process.exit(0))
    }
  })
}

// -----------------------------------------------------------------------------
// Controller (this process)
// -----------------------------------------------------------------------------

/** Sends a message and resolves with the first reply `accept` takes. */
const ask = <A>(child: ChildProcess, message: ToWorker | undefined, accept: (reply: FromWorker) => A | undefined) =>
  new Promise<A>((resolve) => {
    const listener = (reply: FromWorker) => {
      const value = accept(reply)
      if (value !== undefined) {
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
  const RUNS = 300
  const POLL_RUNS = 200
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(testLayer.pipe(Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, "Error"))), scope)
  )
  const server = Context.get(context, RedisServer)
  const redis = Context.get(context, Redis.Redis)
  const exec = <A, E>(effect: Effect.Effect<A, E, Redis.Redis>) => Effect.runPromise(Effect.provideContext(effect, context))
  const child = spawnWorker({ REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix })
  try {
    const clock = await calibrate(child)
    const workerTime = (tc: number) => tc - clock.offset

    // floor and push, interleaved so that noise hits both alike
    const channel = `${server.prefix}bench:floor`
    await ask(child, { type: "floor-subscribe", channel }, (r) => r.type === "floor-ready" ? true : undefined)
    const floor: Array<number> = []
    const push: Array<number> = []
    for (let i = -20; i < RUNS; i++) { // 20 warm-up rounds
      const message = `m${i}`
      const heard = ask(child, undefined, (r) => r.type === "floor" && r.message === message ? r.tc : undefined)
      const t0 = now()
      await exec(redis.send("PUBLISH", channel, message))
      const floorMs = workerTime(await heard) - t0

      const id = `bench-push-${i + 20}-${globalThis.crypto.randomUUID().slice(0, 6)}`
      await ask(child, { type: "push", id }, (r) => r.type === "ready" && r.id === id ? true : undefined)
      const done = ask(child, undefined, (r) => r.type === "done" && r.id === id ? r.tc : undefined)
      const t1 = now()
      await exec(interruptRemote(id, { reason: "user_cancelled" }))
      const pushMs = workerTime(await done) - t1
      if (i >= 0) {
        floor.push(floorMs * 1000)
        push.push(pushMs * 1000)
      }
    }

    // the seed's approach: the key polled at checkpoints 100 ms apart
    const poll: Array<number> = []
    for (let i = 0; i < POLL_RUNS; i++) {
      const id = `bench-poll-${i}-${globalThis.crypto.randomUUID().slice(0, 6)}`
      await ask(child, { type: "poll", id }, (r) => r.type === "ready" && r.id === id ? true : undefined)
      const done = ask(child, undefined, (r) => r.type === "done" && r.id === id ? r.tc : undefined)
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 100)) // a random moment in the period
      const t0 = now()
      await exec(interruptRemote(id, { reason: "user_cancelled" }))
      poll.push((workerTime(await done) - t0) * 1000)
    }

    const floorP99 = percentile(floor, 99)
    const pushP99 = percentile(push, 99)
    return [
      {
        suite,
        name: `clock offset between the processes (round trip ${(clock.rtt * 1000).toFixed(0)} µs)`,
        value: clock.offset * 1000,
        unit: "µs"
      },
      { suite, name: `raw PUBLISH → message, one way p50 (${RUNS} runs)`, value: median(floor), unit: "µs" },
      { suite, name: `raw PUBLISH → message, one way p99 (floor)`, value: floorP99, unit: "µs" },
      {
        suite,
        name: `push: interruptRemote → worker's interrupted event p50 (${RUNS} runs)`,
        value: median(push),
        unit: "µs"
      },
      {
        suite,
        name: `push: interruptRemote → worker's interrupted event p99 (${RUNS} runs)`,
        value: pushP99,
        unit: "µs",
        baseline: "floor p99",
        ratio: pushP99 / floorP99,
        target: "≤ 2 ms, ≤ 4×",
        ok: pushP99 <= 2000 && pushP99 / floorP99 <= 4
      },
      {
        suite,
        name: `seed: key polled at checkpoints 100 ms apart p50 (${POLL_RUNS} runs)`,
        value: median(poll),
        unit: "µs"
      },
      {
        suite,
        name: `seed: key polled at checkpoints 100 ms apart p99 (${POLL_RUNS} runs)`,
        value: percentile(poll, 99),
        unit: "µs",
        baseline: "push p99",
        ratio: percentile(poll, 99) / pushP99
      }
    ]
  } finally {
    child.send({ type: "exit" })
    await new Promise((resolve) => child.once("exit", resolve))
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

if (process.argv.includes(WORKER_FLAG)) void worker()
