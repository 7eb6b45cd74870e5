/**
 * The control API on Redis (`RedisExecutions.layerRedis`), over loopback against a real redis-server:
 * runs started through the API are registered in Redis; runs of another worker (`RedisWorker` in
 * this process) are listed, interrupted with their receipts, followed through their Redis event
 * streams and resumed here; `serve --redis` wires it all up.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option, Queue, Redacted, Schema } from "effect"
import type { Redis } from "effect/persistence"
import { makeServe } from "../../src/cli/serve.ts"
import { AlreadyInterrupted, ExecutionInfo, ExecutionStarted, InterruptAccepted } from "../../src/http/Executions.ts"
import * as RedisExecutions from "../../src/http/RedisExecutions.ts"
import * as Server from "../../src/http/Server.ts"
import { type BusEvent, CheckpointStore, StopPolicy, Workflow } from "../../src/index.ts"
import * as RedisStore from "../../src/redis/RedisStore.ts"
import * as Registry from "../../src/redis/Registry.ts"
import * as RedisWorker from "../../src/redis/RedisWorker.ts"
import * as RemoteInterrupt from "../../src/redis/RemoteInterrupt.ts"
import { RedisServer, redisLayer, testLayer } from "../utils/redisServer.ts"
import { eventually, expect, keys, send, uid } from "../redis/helpers.ts"
import {
  awaitStatus,
  bodyOf,
  dataOf,
  ErrorBody,
  freshGate,
  gated,
  isStartedWait,
  makeLogCapture,
  openGate,
  openSse,
  quick,
  readAll,
  readUntil,
  request,
  type SseMessage,
  start,
  startServe,
  testWorkflows,
  TOKEN,
  TOKEN_BOB
} from "./utils.ts"

const OWNER = "api-1"
const stageNames = ["requested", "delivered", "stopped", "checkpointed"]

const capture = makeLogCapture()

/** The API on a free loopback port, its executions on the test's Redis; its log lines captured. */
const apiOn = <E>(redis: Layer.Layer<Redis.Redis | RedisServer, E>) => Server.layer({
  port: 0,
  auth: {
    credentials: [
      { token: Redacted.make(TOKEN), caller: "alice" },
      { token: Redacted.make(TOKEN_BOB), caller: "bob" }
    ]
  },
  keepAlive: "200 millis"
}).pipe(
  Layer.provideMerge(RedisExecutions.layerRedis({
    workflows: testWorkflows,
    owner: OWNER,
    // shutting down aborts at once: a gated run never drains on its own
    stopPolicy: { system_shutdown: StopPolicy.abort() },
    worker: { heartbeatInterval: "100 millis" },
    followInterval: "200 millis"
  })),
  Layer.provideMerge(RedisStore.layerRedis()),
  Layer.provideMerge(redis),
  Layer.provide(capture.layer)
)

const apiLayer = apiOn(testLayer)

const ids = (messages: ReadonlyArray<SseMessage>) => messages.map((m) => Number(m.id))
const steps = (messages: ReadonlyArray<SseMessage>) =>
  messages.map((m) => {
    const event = dataOf(m)
    return event._tag === "ExecutionEvent" ? `${event.actor} ${event.status}` : event._tag
  })

const isWaitStarted = (event: BusEvent) =>
  event._tag === "ExecutionEvent" && event.actor === "wait" && event.status === "started"

/**
 * Runs the gated workflow on another worker (`worker-B`: `RedisWorker.runWorker` in this process,
 * checkpoints in Redis) and resolves once it waits at its gate.
 */
const startRemote = (label: string, options: { readonly publishEvents?: boolean } = {}) =>
  Effect.gen(function*() {
    const gate = freshGate(label)
    const id = uid(label)
    const waiting = yield* Deferred.make<void>()
    const fiber = yield* RedisWorker.runWorker(Workflow.register(gated), { gate }, {
      stateId: id,
      owner: "worker-B",
      heartbeatInterval: "100 millis",
      publishEvents: options.publishEvents,
      subscribers: [(event) => isWaitStarted(event) ? Deferred.succeed(waiting, undefined) : Effect.void]
    }).pipe(Effect.forkChild({ startImmediately: true }))
    yield* Effect.raceFirst(
      Deferred.await(waiting),
      Effect.flatMap(Fiber.await(fiber), (exit) => Effect.die(new Error(`worker-B ended before its gate: ${exit}`)))
    )
    return { gate, id, fiber }
  })

/** Interrupts through the API and waits for the checkpoint: 202 with every stage. */
const interruptAndCheckpoint = (id: string, body: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const reply = yield* request("POST", `/api/executions/${id}/interrupt?wait=checkpointed`, { body })
    assert.strictEqual(reply.status, 202, reply.text)
    const receipt = bodyOf(InterruptAccepted, reply)
    assert.deepStrictEqual(receipt.stages.map((s) => s.stage), stageNames)
    assert.strictEqual(receipt.checkpointId, id)
    return receipt
  })

const getInfo = (id: string) => Effect.map(request("GET", `/api/executions/${id}`), (reply) => bodyOf(ExecutionInfo, reply))

/** The registry record once it says `status` (the worker records the end right after the run's last event). */
const awaitRecord = (id: string, status: Registry.RunStatus) =>
  eventually(
    Effect.flatMap(Registry.get(id), (record) =>
      expect(record, (r) => Option.isSome(r) && r.value.status === status, `${id} ${status} in the registry`))
  ).pipe(Effect.map(Option.getOrThrow))

const listed = (id: string) =>
  Effect.map(
    request("GET", "/api/executions"),
    (reply) => bodyOf(Schema.Array(ExecutionInfo), reply).find((info) => info.executionId === id)
  )

layer(apiLayer, { excludeTestServices: true, timeout: "30 seconds" })("RedisExecutions", (it) => {
  it.effect("a run started through the API runs here, registered in Redis; its interrupt goes through Redis", () =>
    Effect.gen(function*() {
      const gate = freshGate("api-run")
      const id = yield* start("gated", { gate })
      const connection = yield* openSse(`/api/executions/${id}/events`)
      const first = yield* readUntil(connection, isStartedWait)

      const record = Option.getOrThrow(yield* Registry.get(id))
      assert.deepStrictEqual(
        [record.status, record.owner, record.workflow, record.alive, record.generation],
        ["running", OWNER, "gated", true, 1]
      )
      const info = yield* getInfo(id)
      assert.deepStrictEqual([info.status, info.owner, info.startedBy, info.runs], ["running", OWNER, "alice", 1])
      assert.deepStrictEqual(info.input, { gate })
      assert.strictEqual((yield* listed(id))?.owner, OWNER)

      const receipt = yield* interruptAndCheckpoint(id, { reason: "priority_override", message: "Make room" })
      assert.deepStrictEqual(
        [receipt.signal.reason, receipt.signal.message, receipt.signal.triggeredBy],
        ["priority_override", "Make room", "alice"]
      )
      const status = Option.getOrThrow(yield* RemoteInterrupt.receiptStatus(id))
      assert.deepStrictEqual([status.via, status.deliveredTo, status.checkpoint], ["push", OWNER, "saved"])

      const again = yield* request("POST", `/api/executions/${id}/interrupt`, { token: TOKEN_BOB })
      assert.strictEqual(again.status, 200)
      const second = bodyOf(AlreadyInterrupted, again)
      assert.deepStrictEqual(second.signal, receipt.signal) // the first interrupt won

      // the local event stream ends with the run; the same events went to the run's Redis Stream
      // (all of them once the registry has the end: the worker records it last)
      const rest = yield* readAll(connection)
      const messages = [...first.messages, ...rest]
      assert.strictEqual(messages[messages.length - 1]!.event, "finished")
      const ended = yield* awaitRecord(id, "interrupted")
      assert.deepStrictEqual([ended.checkpoint, ended.reason], ["saved", "priority_override"])
      const k = yield* keys
      const entries = yield* send<ReadonlyArray<readonly [string, ReadonlyArray<string>]>>(
        "XRANGE",
        RedisWorker.eventsKey(k, id),
        "-",
        "+"
      )
      assert.deepStrictEqual(entries.map((entry) => entry[0]), ids(messages).map((n) => `0-${n}`))
      assert.deepStrictEqual(entries.map((entry) => entry[1][3]), messages.map((m) => m.data))

      const done = yield* awaitStatus(id, (i) => i.status === "interrupted")
      assert.deepStrictEqual(done.interrupt, receipt.signal)
      assert.strictEqual(done.checkpointId, id)
    }))

  it.effect("a run of another worker: listed, read through GET, interrupted with its receipt (202, then 200)", () =>
    Effect.gen(function*() {
      const { fiber, gate, id } = yield* startRemote("remote")

      const row = yield* listed(id)
      assert.deepStrictEqual(
        row && [row.status, row.owner, row.workflow, row.runs],
        ["running", "worker-B", "gated", 1]
      )
      const info = yield* getInfo(id)
      assert.deepStrictEqual(
        [info.status, info.owner, info.startedBy, info.workflow, info.runs, info.interruptStages],
        ["running", "worker-B", "worker-B", "gated", 1, []]
      )
      // it runs elsewhere: not resumable here
      const busy = yield* request("POST", `/api/executions/${id}/resume`)
      assert.strictEqual(busy.status, 409)
      assert.deepStrictEqual(bodyOf(ErrorBody, busy), {
        _tag: "NotResumable",
        message: `Execution ${id} cannot be resumed: it is running on worker worker-B`
      })
      // worker-B does not publish its events: nothing to follow here
      const events = yield* request("GET", `/api/executions/${id}/events`)
      assert.strictEqual(events.status, 409)
      assert.deepStrictEqual(bodyOf(ErrorBody, events), {
        _tag: "EventsNotPublished",
        message: `Execution ${id} runs on worker worker-B, which does not publish its events; ` +
          "start that worker with publishEvents: true to follow it from here"
      })

      const receipt = yield* interruptAndCheckpoint(id, { message: "Stop the remote run" })
      assert.deepStrictEqual(
        [receipt.signal.reason, receipt.signal.message, receipt.signal.triggeredBy],
        ["user_cancelled", "Stop the remote run", "alice"]
      )
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Interrupted")
      assert.strictEqual(outcome._tag === "Interrupted" && outcome.signal.triggeredBy, "alice")
      const status = Option.getOrThrow(yield* RemoteInterrupt.receiptStatus(id))
      assert.deepStrictEqual([status.via, status.deliveredTo], ["push", "worker-B"])

      const again = yield* request("POST", `/api/executions/${id}/interrupt`, { token: TOKEN_BOB, body: { reason: "timeout" } })
      assert.strictEqual(again.status, 200)
      const second = bodyOf(AlreadyInterrupted, again)
      assert.deepStrictEqual(second.signal, receipt.signal)
      assert.deepStrictEqual(second.stages, receipt.stages)
      assert.strictEqual(second.checkpointId, id)

      // audited with the receipt's stages, like any interrupt
      const audits = capture.lines.filter((line) =>
        line.annotations["audit"] === "interrupt" && line.annotations["executionId"] === id
      )
      assert.deepStrictEqual(audits.map((line) => [line.annotations["outcome"], line.annotations["stages"]]), [
        ["InterruptAccepted", "requested,delivered,stopped,checkpointed"],
        ["AlreadyInterrupted", "requested,delivered,stopped,checkpointed"]
      ])

      const stopped = yield* awaitStatus(id, (i) => i.status === "interrupted")
      assert.deepStrictEqual(stopped.interrupt, receipt.signal)
      assert.deepStrictEqual(stopped.interruptStages, receipt.stages)
      assert.deepStrictEqual(
        [stopped.owner, stopped.checkpoint, stopped.checkpointId, stopped.input],
        ["worker-B", "saved", id, { gate }] // the input comes from its checkpoint
      )
      yield* openGate(gate)
    }))

  it.effect("resume through the API of a run interrupted on another worker: it completes here, with recovered events", () =>
    Effect.gen(function*() {
      const { fiber, gate, id } = yield* startRemote("moved")
      yield* interruptAndCheckpoint(id)
      yield* Fiber.join(fiber)
      yield* openGate(gate)

      const reply = yield* request("POST", `/api/executions/${id}/resume`, { token: TOKEN_BOB })
      assert.strictEqual(reply.status, 202, reply.text)
      assert.strictEqual(bodyOf(ExecutionStarted, reply).executionId, id)
      const messages = yield* readAll(yield* openSse(`/api/executions/${id}/events`))
      assert.deepStrictEqual(steps(messages), [
        "prepare recovered",
        "wait started",
        "wait completed",
        "finish started",
        "finish completed",
        "ExecutionFinished"
      ])
      const last = dataOf(messages[messages.length - 1]!)
      assert.strictEqual(last._tag === "ExecutionFinished" && last.status, "completed")

      const info = yield* awaitStatus(id, (i) => i.status === "completed")
      assert.deepStrictEqual([info.owner, info.startedBy, info.runs], [OWNER, "bob", 2])
      const record = yield* awaitRecord(id, "completed")
      assert.deepStrictEqual([record.status, record.owner, record.generation], ["completed", OWNER, 2])
    }))

  it.effect("events of another worker's run (publishEvents): history, then live events, end after finished; Last-Event-ID resumes", () =>
    Effect.gen(function*() {
      const { fiber, gate, id } = yield* startRemote("follow", { publishEvents: true })
      const connection = yield* openSse(`/api/executions/${id}/events`)
      assert.strictEqual(connection.status, 200)
      assert.match(connection.headers.get("content-type") ?? "", /^text\/event-stream/)
      const history = (yield* readUntil(connection, isStartedWait)).messages
      assert.deepStrictEqual(steps(history), ["prepare started", "prepare completed", "wait started"])
      assert.deepStrictEqual(ids(history), [1, 2, 3])
      assert.strictEqual((yield* getInfo(id)).watchers, 1)

      // live: the run goes on once the gate opens; the stream ends right after `finished`
      yield* openGate(gate)
      const live = yield* readUntil(connection, () => false)
      assert.isTrue(live.ended)
      assert.deepStrictEqual(steps(live.messages), ["wait completed", "finish started", "finish completed", "ExecutionFinished"])
      assert.deepStrictEqual(ids(live.messages), [4, 5, 6, 7])
      assert.deepStrictEqual(live.messages.map((m) => m.event), ["execution", "execution", "execution", "finished"])
      const outcome = yield* Fiber.join(fiber)
      assert.strictEqual(outcome._tag, "Completed")

      // a reader that reconnects gets what it missed, then the end
      const resumed = yield* readAll(yield* openSse(`/api/executions/${id}/events`, { lastEventId: "2" }))
      assert.deepStrictEqual(ids(resumed), [3, 4, 5, 6, 7])
      assert.deepStrictEqual(resumed.map((m) => m.data), [...history, ...live.messages].slice(2).map((m) => m.data))
      // after the end there is nothing more: the stream ends at once
      assert.deepStrictEqual(yield* readAll(yield* openSse(`/api/executions/${id}/events`, { lastEventId: "7" })), [])
      // the stream expires after the run (an hour by default)
      const k = yield* keys
      const ttl = yield* send<number>("PTTL", RedisWorker.eventsKey(k, id))
      assert.isTrue(ttl > 3_500_000 && ttl <= 3_600_000, `ttl ${ttl}`)
    }))

  it.effect("a run whose worker died is lost; the API resumes it here from its Redis checkpoint", () =>
    Effect.gen(function*() {
      const { fiber, gate, id } = yield* startRemote("lost")
      yield* interruptAndCheckpoint(id)
      yield* Fiber.join(fiber)
      // a worker takes the run over and dies at once: its heartbeat is never refreshed
      yield* Registry.claim(id, { owner: "ghost", heartbeatTtl: "100 millis" })
      const lost = yield* awaitStatus(id, (i) => i.status === "lost")
      assert.deepStrictEqual([lost.owner, lost.runs, lost.checkpointId], ["ghost", 2, id])

      yield* openGate(gate)
      const reply = yield* request("POST", `/api/executions/${id}/resume`)
      assert.strictEqual(reply.status, 202, reply.text)
      const messages = yield* readAll(yield* openSse(`/api/executions/${id}/events`))
      assert.deepStrictEqual(steps(messages).slice(0, 2), ["prepare recovered", "wait started"])
      const last = dataOf(messages[messages.length - 1]!)
      assert.strictEqual(last._tag === "ExecutionFinished" && last.status, "completed")
      const record = yield* awaitRecord(id, "completed")
      assert.deepStrictEqual([record.status, record.owner, record.generation], ["completed", OWNER, 3])
    }))

  it.effect("unknown ids → 404 (nothing written to Redis); a finished run of another worker → 409", () =>
    Effect.gen(function*() {
      const unknown = uid("never-was")
      for (
        const [method, path] of [
          ["GET", `/api/executions/${unknown}`],
          ["POST", `/api/executions/${unknown}/interrupt`],
          ["GET", `/api/executions/${unknown}/events`],
          ["POST", `/api/executions/${unknown}/resume`],
          ["POST", "/api/executions/not%20a%20state%20id/interrupt"]
        ] as const
      ) {
        const reply = yield* request(method, path)
        assert.strictEqual(reply.status, 404, `${method} ${path}`)
        assert.strictEqual(bodyOf(ErrorBody, reply)._tag, "ExecutionNotFound")
      }
      const k = yield* keys
      assert.strictEqual(yield* send<number>("EXISTS", k.interrupt(unknown), k.receipt(unknown)), 0)

      const id = uid("done")
      const outcome = yield* RedisWorker.runWorker(Workflow.register(quick), { n: 4 }, { stateId: id, owner: "worker-B" })
      assert.strictEqual(outcome._tag, "Completed")
      const info = yield* getInfo(id)
      assert.deepStrictEqual([info.status, info.owner, info.checkpointId], ["completed", "worker-B", id])
      const late = yield* request("POST", `/api/executions/${id}/interrupt`)
      assert.strictEqual(late.status, 409)
      assert.deepStrictEqual(bodyOf(ErrorBody, late), {
        _tag: "ExecutionNotRunning",
        message: `Execution ${id} is not running: it completed`
      })
      const resume = yield* request("POST", `/api/executions/${id}/resume`)
      assert.strictEqual(resume.status, 409)
      assert.strictEqual(bodyOf(ErrorBody, resume).message, `Execution ${id} cannot be resumed: it is completed, not interrupted`)
    }))

  it.effect("serve --redis: the server's runs are in Redis; Ctrl-C checkpoints them there", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      const token = "serve-redis-token-0123456789"
      const { fiber, lines, signals, url } = yield* startServe(
        ["--port", "0", "--redis"],
        { AGENT_INTERRUPT_TOKEN: token, REDIS_URL: server.url, AGENT_INTERRUPT_REDIS_PREFIX: server.prefix },
        makeServe({ workflows: testWorkflows, stopPolicy: { system_shutdown: StopPolicy.drain("100 millis") } })
      )
      assert.include(
        lines,
        `  workflows: research, gated, quick, failing; on Redis ${server.url} (prefix ${server.prefix}): runs of every worker, checkpoints in Redis`
      )
      const started = yield* Effect.promise(() =>
        fetch(`${url}/api/executions`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ workflow: "gated", input: { gate: freshGate("serve-redis") } })
        }).then(async (response) => ({ status: response.status, json: await response.json() as unknown }))
      )
      assert.strictEqual(started.status, 201)
      const id = Schema.decodeUnknownSync(ExecutionStarted)(started.json).executionId
      assert.strictEqual(Option.getOrThrow(yield* Registry.get(id)).status, "running")

      yield* Queue.offer(signals, "SIGINT")
      yield* Fiber.join(fiber)
      assert.include(lines, `  ■ ${id} interrupted, checkpoint saved; resume with POST /api/executions/${id}/resume`)
      const record = Option.getOrThrow(yield* Registry.get(id))
      assert.deepStrictEqual([record.status, record.reason, record.checkpoint], ["interrupted", "system_shutdown", "saved"])
      const snapshot = Option.getOrThrow(yield* Effect.flatMap(CheckpointStore, (store) => store.load(id)))
      assert.strictEqual(snapshot.metadata.interrupt?.triggeredBy, "server")
    }))
})

// Its own redis-server, killed and started again.
layer(apiOn(redisLayer.pipe(Layer.provideMerge(RedisServer.layerOwned))), {
  excludeTestServices: true,
  timeout: "30 seconds"
})("RedisExecutions while Redis is down", (it) => {
  it.effect("the API answers 503 BackendUnavailable (JSON) and recovers once Redis is back", () =>
    Effect.gen(function*() {
      const server = yield* RedisServer
      assert.strictEqual((yield* request("GET", "/api/executions")).status, 200)
      yield* server.kill
      for (
        const [method, path, operation] of [
          ["GET", "/api/executions", "list the executions in Redis"],
          ["GET", "/api/executions/some-run", "read execution some-run"],
          ["POST", "/api/executions/some-run/interrupt", "read execution some-run"]
        ] as const
      ) {
        const reply = yield* request(method, path)
        assert.strictEqual(reply.status, 503, `${method} ${path}: ${reply.text}`)
        const body = bodyOf(Schema.Struct({ _tag: Schema.String, operation: Schema.String, message: Schema.String }), reply)
        assert.deepStrictEqual([body._tag, body.operation], ["BackendUnavailable", operation])
        assert.match(body.message, new RegExp(`^Cannot ${operation}: .+; try again$`))
      }
      yield* server.start
      yield* eventually(
        Effect.flatMap(request("GET", "/api/executions"), (reply) => expect(reply.status, (n) => n === 200, "answers again"))
      )
    }))
})
