/**
 * Human in the loop across OS processes on Redis: a worker process (the real CLI, `worker --ask`)
 * waits for an approval; another process answers it — this test's own control plane, or the CLI's
 * `approve` — and the worker, which kept the run, goes on to its result.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { testLayer } from "../utils/redisServer.ts"
import { finished, lineStarting, waitLine } from "./children.ts"
import { cli, cliToEnd, controlPlane, uid } from "./helpers.ts"

const question = (child: Parameters<typeof waitLine>[0]) =>
  waitLine(
    child,
    (l) => /✋ waiting for you: Publish this summary\? — approve or reject \[(in-[0-9a-f]{8}) at /.exec(l)?.[1],
    "the question"
  )

layer(testLayer, { excludeTestServices: true, timeout: "60 seconds" })("answers across processes on Redis", (it) => {
  it.effect("a worker waits for an approval; another process's control plane answers; the worker finishes the run", () =>
    Effect.gen(function*() {
      const stateId = uid("ask")
      const worker = yield* cli(["worker", "--ask", "--state-id", stateId, "--pace", "0.1"])
      const inputId = yield* question(worker)
      const controller = yield* controlPlane()
      const seen = yield* controller.executions.get(stateId)
      assert.strictEqual(seen.status, "awaiting")
      assert.deepStrictEqual(seen.inputs.map((i) => [i.inputId, i.kind, i.tool]), [[inputId, "approval", "publish"]])
      // a bad answer is refused here, nothing reaches the worker
      const bad = yield* Effect.flip(controller.executions.answer(stateId, inputId, { approved: "yes" }))
      assert.strictEqual(bad._tag, "InvalidAnswer")
      const receipt = yield* controller.executions.answer(stateId, inputId, { approved: false, reason: "not today" }, {
        answeredBy: "controller"
      })
      assert.strictEqual(receipt._tag, "AnswerAccepted")
      assert.strictEqual(receipt.answeredBy, "controller")
      const end = yield* finished(worker)
      assert.strictEqual(end.code, 0, end.output)
      const result = JSON.parse(end.lines.find((l) => l.startsWith("Result: "))!.slice("Result: ".length))
      assert.deepStrictEqual([result.published, result.rejected], [false, "not today"])
      assert.isTrue(end.lines.some((l) => /✓ answered in-[0-9a-f]{8}: \{"approved":false,"reason":"not today"\} \(by controller\)$/.test(l)), end.output)
      const twice = yield* Effect.flip(controller.executions.answer(stateId, inputId, { approved: true }))
      assert.strictEqual(twice._tag, "InputAlreadyAnswered")
    }))

  it.effect("agent-interrupt approve <id> from another process (REDIS_URL set) answers a worker's run", () =>
    Effect.gen(function*() {
      const stateId = uid("approve")
      const worker = yield* cli(["worker", "--ask", "--state-id", stateId, "--pace", "0.1"])
      yield* question(worker)
      yield* lineStarting(worker, "Answer from any process with: npm run cli -- approve ")
      const approve = yield* cliToEnd(["approve", stateId, "--state-dir", "/nonexistent-agent-interrupt-dir"])
      assert.strictEqual(approve.code, 0, approve.output)
      assert.match(approve.lines[0]!, new RegExp(`^Answered in-[0-9a-f]{8} of ${stateId}: \\{"approved":true\\}$`))
      const end = yield* finished(worker)
      assert.strictEqual(end.code, 0, end.output)
      assert.isTrue(end.lines.some((l) => l.startsWith("Result: ") && l.includes("\"published\":true")), end.output)
    }))
})
