/**
 * Helpers for the Redis tests: programs that block until stopped, a worker started in the
 * background, and bounded waits on Redis state.
 */
import { Deferred, Duration, Effect, Queue, Ref, Schedule, Schema } from "effect"
import { Redis } from "effect/persistence"
import {
  Actor,
  type BusEvent,
  checkInterrupt,
  type Execution,
  type LogEvent,
  Run,
  runEvent
} from "../../src/index.ts"
import * as Keys from "../../src/redis/Keys.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import * as RedisWorker from "../../src/redis/RedisWorker.ts"
import * as Workflow from "../../src/Workflow.ts"

/** A unique state id per test (the server may be shared through REDIS_URL). */
export const uid = (name: string) => `${name}-${globalThis.crypto.randomUUID().slice(0, 8)}`

/** The keys of the current prefix. */
export const keys = Keys.resolve()

/** A program blocked in an LLM call (an hour) until stopped; `started` once the call began. */
export const blocked = Effect.gen(function*() {
  const started = yield* Deferred.make<void>()
  const calls = yield* Ref.make(0)
  const think = Actor.llm("think", (_: string) =>
    Effect.gen(function*() {
      yield* Ref.update(calls, (n) => n + 1)
      yield* Deferred.succeed(started, undefined)
      return yield* Effect.as(Effect.sleep("1 hour"), "thought")
    }))
  return { started, calls, program: runEvent(think, "question") }
})

/** A program that reaches a checkpoint every 10 ms, forever, inside one event. */
export const looping = Effect.gen(function*() {
  const started = yield* Deferred.make<void>()
  const loop = Actor.agent("loop", (_: string) =>
    Effect.gen(function*() {
      yield* Deferred.succeed(started, undefined)
      while (true) {
        yield* checkInterrupt
        yield* Effect.sleep("10 millis")
      }
    }))
  return { started, program: runEvent(loop, "go") }
})

/** A registered workflow that counts its calls and completes after `millis`. */
export const counting = (millis = 0) => {
  const calls = Ref.makeUnsafe(0)
  const step = Actor.tool("step", (input: { readonly n: number }) =>
    Effect.gen(function*() {
      yield* Ref.update(calls, (n) => n + 1)
      if (millis > 0) yield* Effect.sleep(Duration.millis(millis))
      return input.n * 2
    }))
  const workflow = Workflow.register(Workflow.make({
    name: "counting",
    description: "doubles a number",
    input: Schema.Struct({ n: Schema.Number }),
    example: { n: 1 },
    run: (input: { readonly n: number }) => runEvent(step, input)
  }))
  return { calls, workflow }
}

/**
 * Starts `program` as a Redis worker (attach + Run.run, checkpoints in Redis) in the background.
 * `events` collects the bus; `logs` receives the warning LogEvents.
 */
export const startWorker = <A, E>(
  stateId: string,
  program: Effect.Effect<A, E, Execution>,
  options: RedisWorker.WorkerOptions = {}
) =>
  Effect.gen(function*() {
    const events = yield* Ref.make<Array<BusEvent>>([])
    const logs = yield* Queue.unbounded<LogEvent>()
    const attached = yield* Deferred.make<RedisWorker.Attachment, RedisWorker.WorkerError>()
    const run = Effect.scoped(Effect.gen(function*() {
      const attachment = yield* attach(stateId, options, attached)
      return yield* Run.run(program, {
        ...attachment.runOptions,
        subscribers: [(event) =>
          Effect.andThen(
            Ref.update(events, (all) => [...all, event]),
            event._tag === "LogEvent" ? Queue.offer(logs, event) : Effect.void
          )]
      })
    })).pipe(Effect.provide(RedisStore.layerRedis()))
    const fiber = yield* Effect.forkChild(run, { startImmediately: true })
    const attachment = yield* Deferred.await(attached)
    return { fiber, events, logs, attachment }
  })

const attach = (
  stateId: string,
  options: RedisWorker.WorkerOptions,
  done: Deferred.Deferred<RedisWorker.Attachment, RedisWorker.WorkerError>
) =>
  RedisWorker.attach(stateId, options).pipe(
    Effect.tap((attachment) => Deferred.succeed(done, attachment)),
    Effect.tapError((error) => Deferred.fail(done, error))
  )

/** Retries `check` (every 20 ms, up to `times`) until it succeeds: a bounded wait on Redis state. */
export const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, times = 150) =>
  Effect.retry(check, Schedule.spaced("20 millis").pipe(Schedule.upTo({ times })))

/** Fails unless `value` satisfies `predicate` (for `eventually`). */
export const expect = <A>(value: A, predicate: (a: A) => boolean, what: string) =>
  predicate(value) ? Effect.succeed(value) : Effect.fail(new Error(`not yet: ${what}`))

/** A raw Redis command. */
export const send = <A = unknown>(command: string, ...args: ReadonlyArray<string>) =>
  Effect.flatMap(Redis.Redis, (redis) => redis.send<A>(command, ...args))
