import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import {
  Actor,
  awaitInput,
  CheckpointStore,
  type ExecutionInfo,
  Executions,
  parallel,
  requireApproval,
  runEvent,
  Workflow
} from "../src/index.ts"
import { makeMemory } from "../src/Checkpoint.ts"

// What ran how many times: steps through runEvent, and the plain code before a question.
const counts = new Map<string, number>()
const count = (key: string) => counts.set(key, (counts.get(key) ?? 0) + 1)
const seen = (key: string) => counts.get(key) ?? 0

const fetch = Actor.tool("fetch", (topic: string) => Effect.sync(() => (count(`fetch:${topic}`), `data on ${topic}`)), {
  output: Schema.String
})
const finish = Actor.tool("finish", (text: string) => Effect.sync(() => (count(`finish:${text}`), text.toUpperCase())), {
  output: Schema.String
})

/** fetch → ask which angle (a or b) → finish. */
const ask = Workflow.make({
  name: "ask",
  description: "fetch, ask a person, finish",
  input: Schema.Struct({ topic: Schema.String }),
  example: { topic: "t" },
  steps: 3,
  run: (input) =>
    runEvent(
      Actor.agent("editor", (topic: string) =>
        Effect.gen(function*() {
          const data = yield* runEvent(fetch, topic)
          count(`before-ask:${topic}`)
          const angle = yield* awaitInput({ prompt: `Which angle for ${topic}?`, answer: Schema.String, choices: ["a", "b"] })
          return yield* runEvent(finish, `${data} (${angle})`)
        })),
      input.topic
    )
})

/** Two parallel branches, each asking for a number. */
const twoQuestions = Workflow.make({
  name: "two-questions",
  description: "two branches ask at once",
  input: Schema.Struct({ topic: Schema.String }),
  example: { topic: "t" },
  run: (input) =>
    parallel(
      ["left", "right"].map((side) =>
        runEvent(Actor.agent(side, (t: string) => awaitInput({ prompt: `${side} ${t}?`, answer: Schema.Number })), input.topic)
      )
    ).pipe(Effect.map((results) => results.map((r) => r.result ?? null)))
})

/** A tool that needs approval; a deadline with a default; a deadline without one. */
const approval = Workflow.make({
  name: "approval",
  description: "approve, then publish",
  input: Schema.Struct({
    text: Schema.String,
    deadline: Schema.optionalKey(Schema.Literals(["1 hour", "30 minutes"])),
    withDefault: Schema.optionalKey(Schema.Boolean)
  }),
  example: { text: "hello" },
  run: (input) =>
    runEvent(
      Actor.tool("publish", (text: string) =>
        Effect.gen(function*() {
          const verdict = yield* requireApproval({
            tool: "publish",
            input: text,
            ...(input.deadline === undefined ? {} : { deadline: input.deadline }),
            ...(input.withDefault === true ? { default: { approved: false, reason: "nobody answered" } } : {})
          })
          return verdict.approved ? `published: ${text}` : `not published: ${verdict.reason ?? "rejected"}`
        })),
      input.text
    )
})

const workflows = [Workflow.register(ask), Workflow.register(twoQuestions), Workflow.register(approval)]

// One store per test: what a directory is to several processes.
const plane = (store: CheckpointStore["Service"]) =>
  Executions.layerLocal({ workflows }).pipe(Layer.provide(Layer.succeed(CheckpointStore, store)))

/** Waits (on the run's info stream) until `until` holds. */
const until = (executions: Executions["Service"], id: string, p: (info: ExecutionInfo) => boolean) =>
  Effect.flatMap(
    Stream.runHead(
      Stream.filter(
        Stream.concat(
          Stream.fromEffect(executions.get(id)),
          Stream.mapEffect(executions.events(id), () => executions.get(id))
        ),
        p
      )
    ),
    (found) => Option.isSome(found) ? Effect.succeed(found.value) : executions.get(id)
  )

const awaiting = (info: ExecutionInfo) => info.status === "awaiting" && info.inputs.length > 0

describe("human in the loop", () => {
  it.effect("pause → answer → continue in one process; the step's result carries the answer", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("ask", { topic: "p1" })
      const waiting = yield* until(executions, id, awaiting)
      assert.strictEqual(waiting.inputs.length, 1)
      const question = waiting.inputs[0]!
      assert.strictEqual(question.prompt, "Which angle for p1?")
      assert.deepStrictEqual(question.choices, ["a", "b"])
      assert.strictEqual(question.kind, "input")
      assert.strictEqual(question.address, "editor::agent_call")
      assert.match(question.inputId, /^in-[0-9a-f]{8}$/)
      const receipt = yield* executions.answer(id, undefined, "b", { answeredBy: "alice" })
      assert.strictEqual(receipt._tag, "AnswerAccepted")
      assert.strictEqual(receipt.inputId, question.inputId)
      assert.strictEqual(receipt.answeredBy, "alice")
      const end = yield* executions.awaitEnd(id)
      assert.strictEqual(end.status, "completed")
      assert.strictEqual(end.result, "DATA ON P1 (B)")
      assert.deepStrictEqual(end.inputs, [])
      // the journal: the question, then its answer, then the last step
      const snapshot = yield* executions.snapshot(id)
      assert.deepStrictEqual(snapshot.inputs.map((i) => [i.request.inputId, i.answer?.value, i.answer?.answeredBy]), [
        [question.inputId, "b", "alice"]
      ])
      assert.strictEqual(seen("fetch:p1"), 1)
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("a bad value, a second answer, an unknown input: typed errors, and nothing changes", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("ask", { topic: "p2" })
      const question = (yield* until(executions, id, awaiting)).inputs[0]!
      const before = (yield* executions.snapshot(id)).inputs
      const bad = yield* Effect.flip(executions.answer(id, question.inputId, "z"))
      assert.strictEqual(bad._tag, "InvalidAnswer")
      assert.strictEqual(bad.message, `Expected one of "a", "b", got "z"`)
      const wrongType = yield* Effect.flip(executions.answer(id, question.inputId, 42))
      assert.strictEqual(wrongType._tag, "InvalidAnswer")
      assert.strictEqual(wrongType.message, "Expected string")
      assert.deepStrictEqual((yield* executions.snapshot(id)).inputs, before)
      assert.strictEqual((yield* executions.get(id)).status, "awaiting")
      const unknown = yield* Effect.flip(executions.answer(id, "in-00000000", "a"))
      assert.strictEqual(unknown._tag, "InputNotFound")
      assert.strictEqual(unknown.message, `Execution ${id} has no input in-00000000`)
      yield* executions.answer(id, question.inputId, "a")
      const twice = yield* Effect.flip(executions.answer(id, question.inputId, "b"))
      assert.strictEqual(twice._tag, "InputAlreadyAnswered")
      assert.strictEqual(twice.message, `Input ${question.inputId} of ${id} was answered already: the first answer stands`)
      assert.strictEqual((yield* executions.awaitEnd(id)).result, "DATA ON P2 (A)")
      const none = yield* Effect.flip(executions.answer(id, undefined, "a"))
      assert.strictEqual(none._tag, "InputNotFound")
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("parked: the process lets go; another one answers and finishes it; finished steps are not run again", () =>
    Effect.gen(function*() {
      const store = makeMemory()
      // process A starts the run and parks it while it waits
      const first = yield* Effect.scoped(Effect.gen(function*() {
        const a = Context.get(yield* Layer.build(plane(store)), Executions)
        const id = yield* a.start("ask", { topic: "p3" })
        yield* until(a, id, awaiting)
        assert.isTrue(yield* a.park(id))
        return yield* a.get(id)
      }))
      assert.strictEqual(first.status, "awaiting")
      assert.strictEqual(first.checkpoint, "saved")
      assert.strictEqual(first.inputs.length, 1)
      const id = first.executionId
      // process B (a fresh control plane over the same store) sees it waiting, and answers
      const b = Context.get(yield* Layer.build(plane(store)), Executions)
      const seenByB = yield* b.get(id)
      assert.strictEqual(seenByB.status, "awaiting")
      assert.deepStrictEqual(seenByB.inputs.map((i) => i.inputId), first.inputs.map((i) => i.inputId))
      const bad = yield* Effect.flip(b.answer(id, undefined, "nope"))
      assert.strictEqual(bad._tag, "InvalidAnswer")
      assert.strictEqual((yield* b.snapshot(id)).attempts, 1) // nothing changed: not even a resume
      yield* b.answer(id, undefined, "a", { answeredBy: "bob" })
      const end = yield* b.awaitEnd(id)
      assert.strictEqual(end.status, "completed")
      assert.strictEqual(end.result, "DATA ON P3 (A)")
      assert.strictEqual(end.runs, 2)
      assert.strictEqual(end.progress.recovered, 1) // fetch came back from the journal
      assert.strictEqual(seen("fetch:p3"), 1)
      assert.strictEqual(seen("before-ask:p3"), 2) // the plain code before the question ran again
    }).pipe(Effect.scoped))

  it.effect("two parallel questions, answered in reverse order, matched by id", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("two-questions", { topic: "q" })
      const info = yield* until(executions, id, (i) => i.inputs.length === 2)
      const [left, right] = ["left q?", "right q?"].map((p) => info.inputs.find((i) => i.prompt === p)!)
      const ambiguous = yield* Effect.flip(executions.answer(id, undefined, 1))
      assert.strictEqual(ambiguous._tag, "InvalidAnswer")
      assert.match(ambiguous.message, /^Execution .* waits for 2 answers: name one \(in-[0-9a-f]{8}, in-[0-9a-f]{8}\)$/)
      yield* executions.answer(id, right!.inputId, 2)
      assert.deepStrictEqual((yield* executions.get(id)).inputs.map((i) => i.inputId), [left!.inputId])
      yield* executions.answer(id, left!.inputId, 1)
      const end = yield* executions.awaitEnd(id)
      assert.deepStrictEqual(end.result, [1, 2])
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("an interrupt while waiting ends the run at once; the resume asks again, and the answer finishes it", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("ask", { topic: "p4" })
      const question = (yield* until(executions, id, awaiting)).inputs[0]!
      yield* executions.interrupt(id, { reason: "user_cancelled", message: "not now" })
      const stopped = yield* executions.awaitEnd(id)
      assert.strictEqual(stopped.status, "interrupted")
      assert.strictEqual(stopped.checkpoint, "saved")
      const snapshot = yield* executions.snapshot(id)
      assert.deepStrictEqual(snapshot.inputs.map((i) => [i.request.inputId, i.answer]), [[question.inputId, undefined]])
      yield* executions.resume(id)
      const again = yield* until(executions, id, awaiting)
      assert.deepStrictEqual(again.inputs.map((i) => i.inputId), [question.inputId])
      yield* executions.answer(id, question.inputId, "b")
      assert.strictEqual((yield* executions.awaitEnd(id)).result, "DATA ON P4 (B)")
      assert.strictEqual(seen("fetch:p4"), 1)
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("approval: human_intervention, then reject with a reason", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("approval", { text: "draft" })
      const question = (yield* until(executions, id, awaiting)).inputs[0]!
      assert.strictEqual(question.kind, "approval")
      assert.strictEqual(question.tool, "publish")
      assert.strictEqual(question.toolInput, "draft")
      assert.strictEqual(question.prompt, `Approve publish with "draft"?`)
      const asked = yield* Stream.runCollect(
        executions.events(id, { after: 0 }).pipe(
          Stream.filter(({ event }) => event._tag === "ExecutionEvent" && event.input !== undefined),
          Stream.take(1)
        )
      )
      assert.deepStrictEqual(asked.map(({ event }) => event._tag === "ExecutionEvent" ? [event.status, event.address] : []), [
        ["human_intervention", "publish::tool_call"]
      ])
      const missing = yield* Effect.flip(executions.answer(id, undefined, { reason: "no" }))
      assert.strictEqual(missing._tag, "InvalidAnswer")
      yield* executions.answer(id, undefined, { approved: false, reason: "too early" })
      assert.strictEqual((yield* executions.awaitEnd(id)).result, "not published: too early")
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("deadline: the default answers when it passes (TestClock)", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("approval", { text: "late", deadline: "1 hour", withDefault: true })
      const question = (yield* until(executions, id, awaiting)).inputs[0]!
      assert.strictEqual(question.deadline, "1970-01-01T01:00:00.000Z")
      assert.deepStrictEqual(question.default, { approved: false, reason: "nobody answered" })
      const end = yield* Effect.forkChild(executions.awaitEnd(id))
      yield* TestClock.adjust("1 hour")
      const info = yield* Fiber.join(end)
      assert.strictEqual(info.result, "not published: nobody answered")
      const snapshot = yield* executions.snapshot(id)
      assert.deepStrictEqual(snapshot.inputs.map((i) => [i.answer?.defaulted, i.answer?.answeredBy]), [[true, "deadline"]])
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("deadline without a default: the run is interrupted with reason timeout (TestClock)", () =>
    Effect.gen(function*() {
      const executions = yield* Executions
      const id = yield* executions.start("approval", { text: "never", deadline: "30 minutes" })
      yield* until(executions, id, awaiting)
      const end = yield* Effect.forkChild(executions.awaitEnd(id))
      yield* TestClock.adjust("30 minutes")
      const info = yield* Fiber.join(end)
      assert.strictEqual(info.status, "interrupted")
      assert.strictEqual(info.interrupt?.reason, "timeout")
      assert.strictEqual(info.interrupt?.message, `No answer to "Approve publish with \\"never\\"?" by 1970-01-01T00:30:00.000Z`)
      assert.strictEqual(info.interrupt?.triggeredBy, "deadline")
      // still unanswered: an answer would continue it
      assert.strictEqual(info.inputs.length, 1)
      assert.strictEqual((yield* executions.snapshot(id)).inputs[0]!.answer, undefined)
    }).pipe(Effect.provide(plane(makeMemory()))))

  it.effect("shutting the control plane down parks a waiting run instead of interrupting it", () =>
    Effect.gen(function*() {
      const store = makeMemory()
      const id = yield* Effect.scoped(Effect.gen(function*() {
        const a = Context.get(yield* Layer.build(plane(store)), Executions)
        const id = yield* a.start("ask", { topic: "p5" })
        yield* until(a, id, awaiting)
        return id
      }))
      const records = Option.getOrThrow(yield* store.read(id))
      assert.deepStrictEqual(records.map((r) => r._tag).slice(-2), ["InputRequested", "RunFinished"])
      const last = records.at(-1)!
      assert.strictEqual(last._tag === "RunFinished" ? last.status : undefined, "awaiting")
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(store.acquire(id, { owner: "someone-else" }).pipe(Effect.scoped))))
    }))
})
