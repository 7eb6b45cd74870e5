import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema, Stream } from "effect"
import { AiError, type Prompt, Tool, Toolkit } from "effect/ai"
import { makeMemory } from "../src/Checkpoint.ts"
import { TestClock } from "effect/testing"
import {
  Budget,
  type BusEvent,
  CheckpointStore,
  EventBus,
  type ExecutionInfo,
  Executions,
  type ExecutionEvent,
  ExecutionInterrupted,
  ExecutionState,
  Journal,
  Llm,
  requestInterrupt,
  Run,
  runEvent,
  Workflow
} from "../src/index.ts"

const withState = Effect.provide(ExecutionState.layerWithBus({ stateId: "test" }))

/** Collects the bus's events (live ones included) until `until` holds for one. */
const watch = (until: (event: BusEvent) => boolean) =>
  Effect.flatMap(EventBus, (bus) =>
    Effect.forkChild(
      Stream.runCollect(
        bus.streamWith({ untilInterrupt: false }).pipe(Stream.map((e) => e.event), Stream.takeUntil(until))
      ),
      { startImmediately: true }
    ))

const isFinal = (address: string) => (event: BusEvent) =>
  event._tag === "ExecutionEvent" && event.address === address &&
  (event.status === "completed" || event.status === "interrupted" || event.status === "failed")

const deltasOf = (events: ReadonlyArray<BusEvent>) => events.flatMap((e) => e._tag === "OutputDelta" ? [e.delta] : [])
const executionOf = (events: ReadonlyArray<BusEvent>) =>
  events.filter((e): e is ExecutionEvent => e._tag === "ExecutionEvent")

const ANSWER = "Stop at once, keep the work."

// "Summarise interrupts in one sentence" is 5 input tokens; the answer is 6 words
const summarise = Llm.actor("summarise", (topic: string) => `Summarise ${topic} in one sentence`)
const model = Llm.layerSimulated({ reply: () => ANSWER, delay: "100 millis" })

describe("Llm.actor", () => {
  it.effect("streams the text live on the bus and completes with text, finish reason and usage, journaled", () =>
    Effect.gen(function*() {
      const watcher = yield* watch(isFinal("summarise::llm_call"))
      const fiber = yield* Effect.forkChild(runEvent(summarise, "interrupts"), { startImmediately: true })
      yield* TestClock.adjust("600 millis")
      const result = yield* Fiber.join(fiber)
      assert.deepStrictEqual(result, {
        text: ANSWER,
        finishReason: "stop",
        usage: { inputTokens: 5, outputTokens: 6 },
        model: "simulated"
      })
      const events = yield* Fiber.join(watcher)
      assert.deepStrictEqual(deltasOf(events), ["Stop ", "at ", "once, ", "keep ", "the ", "work."])
      // deltas come between started and completed, each addressed to the event
      assert.deepStrictEqual(events.map((e) => e._tag === "ExecutionEvent" ? e.status : e._tag), [
        "started",
        ...Array(6).fill("OutputDelta"),
        "completed"
      ])
      const delta = events.find((e) => e._tag === "OutputDelta")!
      assert.deepStrictEqual(
        [delta.address, delta.occurrence, delta.attempt, delta.stateId],
        ["summarise::llm_call", 1, 1, "test"]
      )
      const completed = executionOf(events).at(-1)!
      assert.deepStrictEqual(completed.usage, { inputTokens: 5, outputTokens: 6 })
      assert.deepStrictEqual(completed.result, {
        text: ANSWER,
        finishReason: "stop",
        usage: { inputTokens: 5, outputTokens: 6 },
        model: "simulated"
      })
      const records = yield* Effect.flatMap(Journal, (j) => j.records)
      const step = records.find((r) => r._tag === "StepCompleted")
      assert.deepStrictEqual(step?._tag === "StepCompleted" ? [step.usage, step.result] : undefined, [
        { inputTokens: 5, outputTokens: 6 },
        completed.result
      ])
      // deltas are live only: the history keeps the lifecycle
      const history = yield* Effect.flatMap(EventBus, (bus) => bus.history)
      assert.deepStrictEqual(history.map((e) => e._tag), ["ExecutionEvent", "ExecutionEvent"])
    }).pipe(Effect.provide(model), withState))

  it.effect("an interrupt mid-stream keeps the streamed text and the usage so far, on the event and in the journal", () =>
    Effect.gen(function*() {
      const watcher = yield* watch(isFinal("summarise::llm_call"))
      const fiber = yield* Effect.forkChild(runEvent(summarise, "interrupts"), { startImmediately: true })
      yield* TestClock.adjust("300 millis") // three words out
      yield* requestInterrupt({ reason: "user_cancelled" })
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, ExecutionInterrupted)
      yield* TestClock.adjust("1 second") // nothing more comes
      const events = yield* Fiber.join(watcher)
      assert.deepStrictEqual(deltasOf(events), ["Stop ", "at ", "once, "])
      const interrupted = executionOf(events).at(-1)!
      assert.deepStrictEqual(
        [interrupted.status, interrupted.detail, interrupted.partialOutput, interrupted.usage],
        ["interrupted", "Interrupted: user_cancelled", "Stop at once, ", { inputTokens: 5, outputTokens: 3 }]
      )
      const records = yield* Effect.flatMap(Journal, (j) => j.records)
      assert.deepStrictEqual(records.filter((r) => r._tag === "StepInterrupted").map((r) => ({ ...r, timestamp: "" })), [{
        _tag: "StepInterrupted",
        address: "summarise::llm_call",
        occurrence: 1,
        actor: "summarise",
        kind: "llm",
        attempt: 1,
        timestamp: "",
        partialOutput: "Stop at once, ",
        usage: { inputTokens: 5, outputTokens: 3 }
      }])
    }).pipe(Effect.provide(model), withState))

  it.effect("a token budget crossed mid-stream interrupts with resource_limit at that delta", () =>
    Effect.gen(function*() {
      const watcher = yield* watch(isFinal("summarise::llm_call"))
      // 5 input tokens + 1 per word: the 4th word makes 9 > 8
      const fiber = yield* Effect.forkChild(runEvent(summarise, "interrupts").pipe(Effect.provide(Budget.tokens(8))), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, ExecutionInterrupted)
      assert.deepStrictEqual([error.reason, error.message, error.signal.triggeredBy], [
        "resource_limit",
        "Token budget of 8 exceeded (9 used)",
        "budget"
      ])
      const events = yield* Fiber.join(watcher)
      assert.deepStrictEqual(deltasOf(events), ["Stop ", "at ", "once, ", "keep "])
      const interrupted = executionOf(events).at(-1)!
      assert.deepStrictEqual([interrupted.partialOutput, interrupted.usage], [
        "Stop at once, keep ",
        { inputTokens: 5, outputTokens: 4 }
      ])
    }).pipe(Effect.provide(model), withState))

  it.effect("a cost budget prices each model's tokens; the message names the budget", () =>
    Effect.gen(function*() {
      // 5 input tokens at $1/M... priced high to cross: input 100_000 $/M, output 200_000 $/M
      const budget = Budget.cost({ max: 1.2, prices: { simulated: { input: 100_000, output: 200_000 } } })
      const fiber = yield* Effect.forkChild(runEvent(summarise, "interrupts").pipe(Effect.provide(budget)), {
        startImmediately: true
      })
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      // 0.5 for the input, 0.2 per word: the 4th word makes 1.3 > 1.2
      assert.deepStrictEqual([error._tag, error.message], ["ExecutionInterrupted", "Cost budget of $1.20 exceeded ($1.30 used)"])
    }).pipe(Effect.provide(model), withState))

  it.effect("a budget spans every call of the execution", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        Effect.gen(function*() {
          yield* runEvent(summarise, "interrupts") // 11 tokens
          return yield* runEvent(summarise, "interrupts") // 5 more at once, then 1 per word
        }).pipe(Effect.provide(Budget.tokens(20))),
        { startImmediately: true }
      )
      yield* TestClock.adjust("2 seconds")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error.message, "Token budget of 20 exceeded (21 used)")
    }).pipe(Effect.provide(model), withState))
})

// --- tools ------------------------------------------------------------------------------

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.Struct({ city: Schema.String, celsius: Schema.Number })
})
const Tools = Toolkit.make(GetWeather)

const hasToolResult = (prompt: Prompt.Prompt) => prompt.content.some((m) => m.role === "tool")

/** Asks for the weather in Paris, then answers with what the tool said. */
const weatherReply = (calls: Array<string>, prompt: Prompt.Prompt): string | Llm.SimulatedReply => {
  if (!hasToolResult(prompt)) {
    calls.push("ask")
    return { toolCalls: [{ name: "GetWeather", params: { city: "Paris" } }] }
  }
  calls.push("answer")
  const tool = prompt.content.find((m) => m.role === "tool")!
  const result = tool.content[0]!.type === "tool-result" ? tool.content[0]!.result as { celsius: number } : undefined
  return `It is ${result?.celsius} degrees in Paris.`
}

/** A model that asks for the weather in Paris, then answers with what the tool said. */
const weatherModel = (calls: Array<string>) =>
  Llm.layerSimulated({ delay: "100 millis", reply: (prompt) => weatherReply(calls, prompt) })

const weatherHandlers = (ran: Array<string>) =>
  Tools.toLayer({
    GetWeather: ({ city }) => Effect.sync(() => (ran.push(city), { city, celsius: 21 }))
  })

const assistant = Llm.agent("assistant", (question: string) => question, { toolkit: Tools })

describe("Llm.agent", () => {
  it.effect("runs the model's tool calls as tool_call events and hands the results back", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const ran: Array<string> = []
      const fiber = yield* Effect.forkChild(
        runEvent(assistant, "What is the weather in Paris?").pipe(
          Effect.provide(Layer.merge(weatherModel(calls), weatherHandlers(ran)))
        ),
        { startImmediately: true }
      )
      yield* TestClock.adjust("1 second")
      const result = yield* Fiber.join(fiber)
      // the question is 6 words; round 2 adds the call's and the result's JSON (one word each)
      assert.deepStrictEqual(result, {
        text: "It is 21 degrees in Paris.",
        finishReason: "stop",
        usage: { inputTokens: 6 + 8, outputTokens: 1 + 6 },
        rounds: 2
      })
      assert.deepStrictEqual(calls, ["ask", "answer"])
      assert.deepStrictEqual(ran, ["Paris"])
      const history = executionOf(yield* Effect.flatMap(EventBus, (bus) => bus.history))
      assert.deepStrictEqual(history.map((e) => `${e.status} ${e.address}#${e.occurrence}`), [
        "started assistant::agent_call#1",
        "started assistant::model::llm_call#1",
        "completed assistant::model::llm_call#1",
        "started assistant::GetWeather::tool_call#1",
        "completed assistant::GetWeather::tool_call#1",
        "started assistant::model::llm_call#2",
        "completed assistant::model::llm_call#2",
        "completed assistant::agent_call#1"
      ])
      const tool = history.find((e) => e.address === "assistant::GetWeather::tool_call" && e.status === "completed")!
      assert.deepStrictEqual([tool.kind, tool.result], ["tool", { isFailure: false, result: { city: "Paris", celsius: 21 } }])
      const started = history.find((e) => e.address === "assistant::GetWeather::tool_call")!
      assert.strictEqual(started.detail, "{\"city\":\"Paris\"}")
      const records = yield* Effect.flatMap(Journal, (j) => j.records)
      const step = records.find((r) => r._tag === "StepCompleted" && r.address === "assistant::GetWeather::tool_call")
      assert.strictEqual(step?._tag === "StepCompleted" ? step.idempotencyKey : "", "test::assistant::GetWeather::tool_call#1")
    }).pipe(withState))

  it.effect("a tool whose handler fails is retried per its policy", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      let attempts = 0
      const flaky = Tools.toLayer({
        GetWeather: ({ city }) =>
          Effect.suspend(() =>
            ++attempts < 2
              ? Effect.fail(new AiError.UnknownError({ description: "weather service down" }))
              : Effect.succeed({ city, celsius: 21 })
          )
      })
      const agent = Llm.agent("assistant", (q: string) => q, {
        toolkit: Tools,
        tools: { GetWeather: { retry: { baseDelay: "1 second" } } }
      })
      const fiber = yield* Effect.forkChild(
        runEvent(agent, "Weather?").pipe(Effect.provide(Layer.merge(weatherModel(calls), flaky))),
        { startImmediately: true }
      )
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual((yield* Fiber.join(fiber)).text, "It is 21 degrees in Paris.")
      const history = executionOf(yield* Effect.flatMap(EventBus, (bus) => bus.history))
      assert.deepStrictEqual(
        history.filter((e) => e.address === "assistant::GetWeather::tool_call").map((e) => `${e.status} ${e.attempt}`),
        ["started 1", "failed 1", "retrying 1", "started 2", "completed 2"]
      )
    }).pipe(withState))

  it.effect("a model still calling tools after maxRounds fails the agent with TooManyToolRounds", () =>
    Effect.gen(function*() {
      const looping = Llm.layerSimulated({ reply: () => ({ toolCalls: [{ name: "GetWeather", params: { city: "Paris" } }] }) })
      const agent = Llm.agent("assistant", (q: string) => q, { toolkit: Tools, maxRounds: 2 })
      const error = yield* Effect.flip(
        runEvent(agent, "Weather?").pipe(Effect.provide(Layer.merge(looping, weatherHandlers([]))))
      )
      assert.deepStrictEqual([error._tag, error.message], [
        "TooManyToolRounds",
        "Agent assistant was still calling tools after 2 rounds: raise maxRounds or change the prompt"
      ])
    }).pipe(withState))
})

// --- approvals ----------------------------------------------------------------------------

/** The weather agent, its tool needing a person's approval, as a workflow of the control plane. */
const approvalPlane = (calls: Array<string>, ran: Array<string>) => {
  const careful = Llm.agent("assistant", (question: string) => question, {
    toolkit: Tools,
    tools: { GetWeather: { needsApproval: true } }
  })
  const rejectingModel = Llm.layerSimulated({
    reply: (prompt) => {
      const tool = prompt.content.find((m) => m.role === "tool")
      const part = tool?.content[0]
      if (part?.type === "tool-result" && part.isFailure) return `I may not look: ${String(part.result)}`
      return weatherReply(calls, prompt)
    }
  })
  const weather = Workflow.make({
    name: "weather",
    description: "asks the weather, with approval",
    input: Schema.String,
    example: "What is the weather in Paris?",
    run: (question: string) =>
      runEvent(careful, question).pipe(
        Effect.map((answer) => answer.text),
        Effect.provide(Layer.merge(rejectingModel, weatherHandlers(ran))),
        Effect.catchTags({ AiError: (e) => Effect.die(e), TooManyToolRounds: (e) => Effect.die(e) })
      )
  })
  return Executions.layerLocal({ workflows: [Workflow.register(weather)] }).pipe(
    Layer.provide(Layer.succeed(CheckpointStore, makeMemory()))
  )
}

const awaitingApproval = (executions: Executions["Service"], id: string) =>
  Effect.flatMap(
    Stream.runHead(
      Stream.filter(
        Stream.mapEffect(executions.events(id), () => executions.get(id)),
        (info: ExecutionInfo) => info.status === "awaiting" && info.inputs.length > 0
      )
    ),
    (found) => found._tag === "Some" ? Effect.succeed(found.value) : executions.get(id)
  )

describe("tool approvals", () => {
  it.effect("a tool that needs approval waits for a person; approved, it runs as a tool_call event", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const ran: Array<string> = []
      yield* Effect.gen(function*() {
        const executions = yield* Executions
        const id = yield* executions.start("weather", "What is the weather in Paris?")
        const waiting = yield* awaitingApproval(executions, id)
        const question = waiting.inputs[0]!
        assert.deepStrictEqual([question.kind, question.tool, question.toolInput, question.prompt, question.address], [
          "approval",
          "GetWeather",
          { city: "Paris" },
          "Allow assistant to call GetWeather with {\"city\":\"Paris\"}?",
          "assistant::agent_call"
        ])
        assert.deepStrictEqual(ran, []) // not before the answer
        yield* executions.answer(id, question.inputId, { approved: true }, { answeredBy: "alice" })
        const end = yield* executions.awaitEnd(id)
        assert.deepStrictEqual([end.status, end.result], ["completed", "It is 21 degrees in Paris."])
        assert.deepStrictEqual(ran, ["Paris"])
      }).pipe(Effect.provide(approvalPlane(calls, ran)))
    }))

  it.effect("rejected, the call never runs and the model is told why", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const ran: Array<string> = []
      yield* Effect.gen(function*() {
        const executions = yield* Executions
        const id = yield* executions.start("weather", "What is the weather in Paris?")
        const question = (yield* awaitingApproval(executions, id)).inputs[0]!
        yield* executions.answer(id, question.inputId, { approved: false, reason: "no network today" })
        const end = yield* executions.awaitEnd(id)
        assert.deepStrictEqual([end.status, end.result], [
          "completed",
          "I may not look: A person rejected this call of GetWeather: no network today"
        ])
        assert.deepStrictEqual(ran, [])
      }).pipe(Effect.provide(approvalPlane(calls, ran)))
    }))
})

// --- resume -------------------------------------------------------------------------------

describe("resume", () => {
  it.effect("replays completed model calls and tool calls from the journal; only the interrupted call runs again", () =>
    Effect.gen(function*() {
      const calls: Array<string> = []
      const ran: Array<string> = []
      const layers = Layer.merge(weatherModel(calls), weatherHandlers(ran))
      const program = runEvent(assistant, "What is the weather in Paris?").pipe(Effect.provide(layers))
      // interrupted while the second model call streams its answer
      let seen = 0
      let state: ExecutionState["Service"] | undefined
      const first = yield* Effect.forkChild(
        Run.run(program, {
          stateId: "weather",
          onStart: (execution) => Effect.sync(() => void (state = execution.state)),
          // the second word of the second model call
          subscribers: [(event) =>
            event._tag === "OutputDelta" && event.occurrence === 2 && ++seen === 2 && state !== undefined
              ? Effect.asVoid(state.requestInterrupt({ reason: "user_cancelled" }))
              : Effect.void]
        }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("2 seconds")
      const stopped = yield* Fiber.join(first)
      assert.strictEqual(stopped._tag, "Interrupted")
      assert.deepStrictEqual([calls, ran], [["ask", "answer"], ["Paris"]])

      const events: Array<BusEvent> = []
      const second = yield* Effect.forkChild(
        Run.resume("weather", program, { subscribers: [(e) => Effect.sync(() => void events.push(e))] }),
        { startImmediately: true }
      )
      yield* TestClock.adjust("2 seconds")
      const done = yield* Fiber.join(second)
      assert.strictEqual(done._tag, "Completed")
      // the first model call and the tool call came back from the journal
      assert.deepStrictEqual([calls, ran], [["ask", "answer", "answer"], ["Paris"]])
      assert.deepStrictEqual(
        executionOf(events).filter((e) => e.status !== "started").map((e) => `${e.status} ${e.address}#${e.occurrence}`),
        [
          "recovered assistant::model::llm_call#1",
          "recovered assistant::GetWeather::tool_call#1",
          "completed assistant::model::llm_call#2",
          "completed assistant::agent_call#1"
        ]
      )
    }).pipe(Effect.provide(CheckpointStore.layerMemory)))
})

describe("the simulated model", () => {
  it("streams words with the spaces after them", () => {
    assert.deepStrictEqual(Llm.words("  Hello,  world! \n"), ["  Hello,  ", "world! \n"])
    assert.deepStrictEqual(Llm.words(""), [])
  })
})
