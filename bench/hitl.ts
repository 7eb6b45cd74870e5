/**
 * Human-in-the-loop benchmarks: from an answer to the run's next step started.
 *
 * A workflow asks a question (`awaitInput`) and, once answered, runs its next step; the moment that
 * step's handler starts is taken with `performance.now()` in the process that runs it. Interleaved,
 * 250 runs each:
 *
 * - in process: `executions.answer(...)` on the control plane that runs the execution, beside the
 *   floor of a raw `Deferred.succeed` → the fiber awaiting it resumed;
 * - over Redis: two control planes with their own Redis connections (as two machines would be; here
 *   in one process, so that both moments are on one clock): the controller answers a run the worker
 *   holds, beside the floor of a raw `PUBLISH` → the message in a subscriber of another connection.
 *   The controller has not seen the run before (as `agent-interrupt approve <id>` from another
 *   machine): reading it is part of the figure.
 */
import { NodeRedis } from "@effect/platform-node"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Queue, Schema, Scope, Stream } from "effect"
import { Redis } from "effect/persistence"
import { Actor, awaitInput, CheckpointStore, Executions, runEvent, Workflow } from "../src/index.ts"
import * as RedisConnection from "../src/redis/RedisConnection.ts"
import * as RedisExecutions from "../src/redis/RedisExecutions.ts"
import { RedisServer, testLayer } from "../test/utils/redisServer.ts"
import { percentile, type Row } from "./harness.ts"

const suite = "hitl"
const RUNS = 250
const WARMUP = 20
const now = () => performance.now()

// When each run's next step started (this process's clock), by state id.
const started = new Map<string, Deferred.Deferred<number>>()
const startedOf = (id: string) => {
  let d = started.get(id)
  if (d === undefined) {
    d = Deferred.makeUnsafe<number>()
    started.set(id, d)
  }
  return d
}

const next = Actor.tool("next", (id: string) => Effect.andThen(Deferred.succeed(startedOf(id), now()), Effect.succeed(id)), {
  output: Schema.String
})
const asking = Workflow.make({
  name: "asking-bench",
  description: "asks for a number, then runs one more step",
  input: Schema.Struct({ id: Schema.String }),
  example: { id: "x" },
  run: (input) =>
    Effect.gen(function*() {
      yield* runEvent(Actor.agent("ask", () => awaitInput({ prompt: "n?", answer: Schema.Number })), null)
      return yield* runEvent(next, input.id)
    })
})
const workflows = [Workflow.register(asking)]

/** Starts a run and waits (on its events) until it asks; returns the question's id. */
const startAsking = (executions: Executions["Service"], id: string) =>
  Effect.gen(function*() {
    yield* executions.start("asking-bench", { id }, { stateId: id })
    const asked = yield* executions.events(id).pipe(
      Stream.filter((item) => item.event._tag === "ExecutionEvent" && item.event.input !== undefined),
      Stream.runHead
    )
    const event = asked._tag === "Some" ? asked.value.event : undefined
    if (event?._tag !== "ExecutionEvent" || event.input === undefined) return yield* Effect.die(new Error(`${id} did not ask`))
    return event.input.inputId
  })

const summary = (
  rows: Array<Row>,
  label: string,
  ours: ReadonlyArray<number>,
  floor: ReadonlyArray<number>,
  floorName: string
) => {
  for (const p of [50, 99] as const) {
    const f = percentile(floor, p)
    const o = percentile(ours, p)
    rows.push({ suite, name: `${floorName} p${p} (floor, ${floor.length} runs)`, value: f * 1000, unit: "µs" })
    rows.push({
      suite,
      name: `${label} p${p} (${ours.length} runs)`,
      value: o * 1000,
      unit: "µs",
      baseline: `floor p${p}`,
      ratio: o / f
    })
  }
}

const inProcess = async (rows: Array<Row>) => {
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(Executions.layerLocal({ workflows }).pipe(Layer.provide(CheckpointStore.layerMemory)), scope)
  )
  const executions = Context.get(context, Executions)
  const floor: Array<number> = []
  const ours: Array<number> = []
  const floorOnce = Effect.gen(function*() {
    const d = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkChild(Effect.andThen(Deferred.await(d), Effect.sync(now)), { startImmediately: true })
    const t0 = now()
    yield* Deferred.succeed(d, undefined)
    return (yield* Fiber.join(fiber)) - t0
  })
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const f = await Effect.runPromise(floorOnce)
    const id = `bench-local-${i}`
    const sample = await Effect.runPromise(Effect.gen(function*() {
      const inputId = yield* startAsking(executions, id)
      const t0 = now()
      yield* executions.answer(id, inputId, i)
      const t1 = yield* Deferred.await(startedOf(id))
      yield* executions.awaitEnd(id)
      return t1 - t0
    }))
    if (i >= WARMUP) {
      floor.push(f)
      ours.push(sample)
    }
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  summary(rows, "answer → next step started, in process", ours, floor, "Deferred.succeed → awaiting fiber resumed")
}

const overRedis = async (rows: Array<Row>) => {
  const scope = Effect.runSync(Scope.make())
  const base = await Effect.runPromise(Layer.buildWithScope(testLayer, scope))
  const server = Context.get(base, RedisServer)
  const plane = (name: string) =>
    Effect.runPromise(
      Layer.buildWithScope(
        RedisExecutions.layerWithStore({ workflows }).pipe(
          Layer.provide(RedisConnection.layer({ url: server.url, prefix: `${server.prefix}${name}:` }))
        ),
        scope
      )
    ).then((c) => Context.get(c, Executions))
  const worker = await plane("hitl")
  const controller = await plane("hitl")
  // the floor: PUBLISH on one connection → the message on another
  const publisher = Context.get(base, Redis.Redis)
  const subscriberContext = await Effect.runPromise(
    Layer.buildWithScope(NodeRedis.layer({ url: server.url }), scope)
  )
  const subscriber = Context.get(subscriberContext, Redis.Redis)
  const channel = `${server.prefix}hitl-floor`
  const subscription = await Effect.runPromise(Scope.provide(subscriber.subscribe(channel), scope))
  const floorOnce = Effect.gen(function*() {
    const t0 = now()
    yield* publisher.send("PUBLISH", channel, "x")
    yield* Queue.take(subscription)
    return now() - t0
  })
  const floor: Array<number> = []
  const ours: Array<number> = []
  for (let i = 0; i < RUNS + WARMUP; i++) {
    const f = await Effect.runPromise(floorOnce)
    const id = `bench-redis-${i}-${Math.random().toString(36).slice(2, 8)}`
    const sample = await Effect.runPromise(Effect.gen(function*() {
      const inputId = yield* startAsking(worker, id)
      const t0 = now()
      yield* controller.answer(id, inputId, i)
      const t1 = yield* Deferred.await(startedOf(id))
      yield* worker.awaitEnd(id)
      return t1 - t0
    }))
    if (i >= WARMUP) {
      floor.push(f)
      ours.push(sample)
    }
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
  summary(rows, "answer from another control plane → next step started, over Redis", ours, floor, "raw PUBLISH → message")
}

export const run = async (): Promise<ReadonlyArray<Row>> => {
  const rows: Array<Row> = []
  await inProcess(rows)
  await overRedis(rows)
  return rows
}
