/**
 * The page in a real browser: Debian's Chromium driven by playwright-core, against a real server on
 * loopback. Every wait is on the page's DOM (locators), never a sleep.
 *
 * 1. A run from start to end: enter the token, start the research workflow, watch its events and its
 *    timeline live, stop it with a reason while its summary streams, read the banner and the partial
 *    output, reload (the run's URL shows it again), resume it, see it complete with its result in full
 *    and a timeline with one row per step, the replayed steps hatched, the interrupt line and two
 *    attempt bands; back and forward move between runs; event text is never run as HTML.
 * 2. At 375 px wide: a lost run opened by its URL in a new tab says `lost` and its Resume button
 *    finishes it; a stop that drains shows `cancelling`; a run that does not exist gets the server's
 *    message; the page never scrolls sideways.
 *
 * Screenshots go to test-output/screenshots/; with UPDATE_DOCS_SCREENSHOTS=1 the README's
 * docs/serve-page.png (a run stopped by the user, banner and Resume) and docs/serve-timeline.png (the
 * timeline of that run once resumed and completed) are written too.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { CheckpointStore, ExecutionInfo, type JournalRecord } from "../../src/index.ts"
import { baseUrl, freshGate, openGate, serverLayer, start, TOKEN } from "./utils.ts"

const CHROMIUM = "/usr/bin/chromium"
const ROOT = join(import.meta.dirname, "..", "..")
const SCREENSHOTS = join(ROOT, "test-output", "screenshots")
const DOCS = process.env.UPDATE_DOCS_SCREENSHOTS === "1" ? join(ROOT, "docs") : SCREENSHOTS
const DESKTOP = { width: 1280, height: 900 }

const launch = Effect.acquireRelease(
  Effect.gen(function*() {
    if (!existsSync(CHROMIUM)) {
      return yield* Effect.die(
        new Error(
          `Chromium is not installed at ${CHROMIUM}. Install it with "sudo apt-get install chromium" (Debian/Ubuntu), ` +
            `or run "bash .ci/run", which installs it when missing.`
        )
      )
    }
    const userDataDir = mkdtempSync(join(tmpdir(), "agent-interrupt-chromium-"))
    const context = yield* Effect.promise(() =>
      chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: DESKTOP,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync"
        ]
      })
    )
    return { context, userDataDir }
  }),
  ({ context, userDataDir }) =>
    Effect.promise(async () => {
      await context.close()
      rmSync(userDataDir, { recursive: true, force: true })
    })
)

const TOPIC = "interruptible agents"
const XSS_TOPIC = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`

// -----------------------------------------------------------------------------
// Helpers
// -----------------------------------------------------------------------------

/**
 * A new tab that records the page's errors and its console errors (a CSP violation is one), and the
 * URLs it requests (`requests`, when given).
 */
const openTab = async (context: BrowserContext, errors: Array<string>, requests?: Array<string>) => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  mkdirSync(DOCS, { recursive: true })
  const page = await context.newPage()
  page.on("pageerror", (error) => errors.push(error.message))
  if (requests !== undefined) page.on("request", (request) => requests.push(request.url()))
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text())
  })
  return page
}

const enterToken = async (page: Page) => {
  await page.getByTestId("token-input").fill(TOKEN)
  await page.getByTestId("token-submit").click()
}

const statusIs = (page: Page, status: string, timeout = 15_000) =>
  page.locator(`[data-testid="run-status"]`, { hasText: new RegExp(`^${status}$`) }).waitFor({ timeout })

const infoOf = async (url: string, id: string): Promise<ExecutionInfo> => {
  const response = await fetch(`${url}/api/executions/${id}`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return Schema.decodeUnknownSync(ExecutionInfo)(await response.json())
}

/** The area of an element in the page, with a margin (for a full-page screenshot's clip). */
const around = async (page: Page, testId: string, margin = 14) => {
  const box = (await page.getByTestId(testId).boundingBox())!
  const scrollY = await page.evaluate<number>("window.scrollY")
  return { x: box.x - margin, y: box.y + scrollY - margin, width: box.width + 2 * margin, height: box.height + 2 * margin }
}

/** The top of the page down to the end of an element (for a screenshot). */
const upTo = async (page: Page, testId: string) => {
  const box = (await page.getByTestId(testId).boundingBox())!
  const size = page.viewportSize() ?? DESKTOP
  return { x: 0, y: 0, width: size.width, height: Math.min(size.height, box.y + box.height + 20) }
}

const count = (page: Page, selector: string) => page.locator(selector).count()
const attributes = (page: Page, selector: string, name: string) =>
  page.locator(selector).evaluateAll((nodes, name) => nodes.map((node) => node.getAttribute(name)), name)
// the width of the whole page (the test's tsconfig has no DOM types: an expression)
const pageWidth = (page: Page) => page.evaluate<number>("document.documentElement.scrollWidth")

interface Timeline {
  readonly rows: number
  readonly addresses: ReadonlyArray<string | null>
  readonly recovered: number
  readonly hatched: number
  readonly attempts: ReadonlyArray<string | null>
  readonly interrupts: ReadonlyArray<string | null>
  readonly statuses: ReadonlyArray<string | null>
}

const timelineOf = async (page: Page): Promise<Timeline> => ({
  rows: await count(page, `[data-testid="timeline-step"]`),
  addresses: await attributes(page, `[data-testid="timeline-step"]`, "data-address"),
  recovered: await count(page, `[data-testid="timeline-bar"][data-status="recovered"]`),
  hatched: await count(page, `[data-testid="timeline-bar"][data-hatched="true"].hatched`),
  attempts: await attributes(page, `[data-testid="timeline-attempt"]`, "data-attempt"),
  interrupts: await attributes(page, `[data-testid="timeline-interrupt"]`, "data-attempt"),
  statuses: await attributes(page, `[data-testid="timeline-bar"]`, "data-status")
})

// -----------------------------------------------------------------------------
// 1. A run from start to end
// -----------------------------------------------------------------------------

interface Seen {
  readonly executionId: string
  readonly hashAfterStart: string
  readonly statuses: ReadonlyArray<string>
  readonly bannerReason: string
  readonly bannerBy: string
  readonly bannerMessage: string
  readonly bannerCheckpoint: string
  readonly eventCountBeforeStop: number
  readonly partialOutput: string
  readonly interrupted: Timeline
  readonly reloaded: { readonly id: string; readonly status: string; readonly rows: number; readonly hash: string }
  readonly completed: Timeline
  readonly info: ExecutionInfo
  readonly resultText: string
  readonly progressText: string
  readonly rowSteps: string
  readonly eventsText: string
  readonly back: string
  readonly forward: string
  readonly xssId: string
  readonly xssEvents: string
  readonly injected: number
  readonly xss: unknown
  readonly sessionToken: string | null
  readonly localStorageKeys: number
  readonly pageErrors: ReadonlyArray<string>
  readonly requests: ReadonlyArray<string>
  readonly runsRows: number
}

const drive = async (context: BrowserContext, url: string): Promise<Seen> => {
  const pageErrors: Array<string> = []
  const requests: Array<string> = []
  const page = await openTab(context, pageErrors, requests)
  const statuses: Array<string> = []
  const status = page.getByTestId("run-status")

  await page.goto(url)
  await enterToken(page)
  await page.locator(`[data-testid="workflow"] option[value="research"]`).waitFor({ state: "attached" })
  await page.getByTestId("workflow").selectOption("research")
  await page.getByTestId("input").fill(JSON.stringify({ topic: TOPIC, pace: 1 }))

  // start, and watch the events and the timeline live
  await page.getByTestId("start").click()
  await statusIs(page, "running")
  statuses.push((await status.textContent()) ?? "")
  const executionId = (await page.getByTestId("run-id").textContent()) ?? ""
  const hashAfterStart = new URL(page.url()).hash
  await page.locator(`[data-testid="event"][data-kind="execution"]`, { hasText: "✓ planner::plan::llm_call" })
    .first().waitFor({ timeout: 15_000 })
  await page.locator(`[data-testid="event"][data-kind="group"]`).first().waitFor()
  // the summary streams: its bar grows on the timeline
  await page.locator(`[data-testid="timeline-step"][data-address="planner::summarise::llm_call"] [data-status="running"]`)
    .waitFor({ timeout: 15_000 })
  const eventCountBeforeStop = await page.getByTestId("event").count()
  await page.screenshot({ path: join(SCREENSHOTS, "01-running.png") })

  // Stop, with a reason, while the summary streams
  await page.getByTestId("stop").click()
  await page.getByTestId("stop-form").waitFor()
  await page.getByTestId("stop-message").fill("wrong topic")
  await page.getByTestId("stop-confirm").click()
  await statusIs(page, "interrupted")
  statuses.push((await status.textContent()) ?? "")
  await page.locator(`[data-testid="banner-checkpoint"]`, { hasText: "(saved)" }).waitFor()
  await page.locator(`[data-testid="event"][data-kind="finished"]`).first().waitFor()
  await page.getByTestId("resume").waitFor()
  await page.getByTestId("timeline-interrupt").waitFor({ state: "attached" }) // a line: no area
  const partialOutput = (await page.getByTestId("partial-output").textContent()) ?? ""
  const bannerReason = (await page.getByTestId("banner-reason").textContent()) ?? ""
  const bannerBy = (await page.getByTestId("banner-by").textContent()) ?? ""
  const bannerMessage = (await page.getByTestId("banner-message").textContent()) ?? ""
  const bannerCheckpoint = (await page.getByTestId("banner-checkpoint").textContent()) ?? ""
  const interrupted = await timelineOf(page)
  await page.evaluate("window.scrollTo(0, 0)")
  await page.screenshot({ path: join(DOCS, "serve-page.png"), clip: await upTo(page, "timeline-section") })

  // the run's URL shows it again after a reload (the stream replays its history)
  await page.reload()
  await page.locator(`[data-testid="run-id"]`, { hasText: executionId }).waitFor()
  await statusIs(page, "interrupted")
  await page.getByTestId("timeline-interrupt").waitFor({ state: "attached" }) // a line: no area
  await page.locator(`[data-testid="event"][data-kind="finished"]`).first().waitFor()
  const reloaded = {
    id: (await page.getByTestId("run-id").textContent()) ?? "",
    status: (await status.textContent()) ?? "",
    rows: await count(page, `[data-testid="timeline-step"]`),
    hash: new URL(page.url()).hash
  }

  // Resume, and see it complete
  await page.getByTestId("resume").click()
  await statusIs(page, "completed", 30_000)
  statuses.push((await status.textContent()) ?? "")
  await page.locator(`[data-testid="event"][data-kind="finished"]`, { hasText: "finished: completed" }).waitFor()
  await page.locator(`[data-testid="run-row"][data-id="${executionId}"]`, { hasText: "completed" }).waitFor({
    timeout: 10_000
  })
  await page.getByTestId("result").waitFor()
  await page.locator(`[data-testid="timeline-attempt"][data-status="completed"]`).waitFor()
  const info = await infoOf(url, executionId)
  const completed = await timelineOf(page)
  const resultText = (await page.getByTestId("result").textContent()) ?? ""
  const progressText = (await page.getByTestId("progress").textContent()) ?? ""
  const rowSteps =
    (await page.locator(`[data-testid="run-row"][data-id="${executionId}"] [data-testid="run-steps"]`).textContent()) ?? ""
  await page.screenshot({ path: join(DOCS, "serve-timeline.png"), fullPage: true, clip: await around(page, "timeline-section") })
  await page.screenshot({ path: join(SCREENSHOTS, "03-completed.png"), fullPage: true })
  const eventsText = (await page.getByTestId("events").textContent()) ?? ""

  // another run, whose input is markup: shown as text, never run as HTML; back and forward move
  // between the two runs
  await page.getByTestId("input").fill(JSON.stringify({ topic: XSS_TOPIC, pace: 0.2 }))
  await page.getByTestId("start").click()
  await page.locator(`[data-testid="event"]`, { hasText: XSS_TOPIC.replace(/"/g, '\\"') }).first().waitFor()
  const xssId = (await page.getByTestId("run-id").textContent()) ?? ""
  const xssEvents = (await page.getByTestId("events").textContent()) ?? ""
  await page.goBack()
  await page.locator(`[data-testid="run-id"]`, { hasText: executionId }).waitFor()
  await page.getByTestId("result").waitFor()
  const back = (await page.getByTestId("run-id").textContent()) ?? ""
  await page.goForward()
  await page.locator(`[data-testid="run-id"]`, { hasText: xssId }).waitFor()
  await page.locator(`[data-testid="event"]`, { hasText: XSS_TOPIC.replace(/"/g, '\\"') }).first().waitFor()
  const forward = (await page.getByTestId("run-id").textContent()) ?? ""
  const injected = await count(page, `main img, main script`)
  const xss = await page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)
  const sessionToken = await page.evaluate(() => sessionStorage.getItem("agent-interrupt-token"))
  const localStorageKeys = await page.evaluate(() => localStorage.length)
  const runsRows = await page.getByTestId("run-row").count()
  await page.close()
  return {
    executionId,
    hashAfterStart,
    statuses,
    bannerReason,
    bannerBy,
    bannerMessage,
    bannerCheckpoint,
    eventCountBeforeStop,
    partialOutput,
    interrupted,
    reloaded,
    completed,
    info,
    resultText,
    progressText,
    rowSteps,
    eventsText,
    back,
    forward,
    xssId,
    xssEvents,
    injected,
    xss,
    sessionToken,
    localStorageKeys,
    pageErrors,
    requests,
    runsRows
  }
}

// -----------------------------------------------------------------------------
// 2. At 375 px: a lost run, a draining stop, an unknown run
// -----------------------------------------------------------------------------

interface NarrowSeen {
  readonly lost: { readonly id: string; readonly status: string; readonly note: string; readonly rows: number }
  readonly resumeTag: string
  readonly completed: Timeline
  readonly resultText: string
  readonly details: string
  readonly draining: { readonly status: string; readonly banner: string; readonly stopDisabled: boolean }
  readonly drained: string
  readonly missing: string
  readonly widths: ReadonlyArray<number>
  readonly timelineScrolls: boolean
  readonly pageErrors: ReadonlyArray<string>
}

const driveNarrow = async (
  context: BrowserContext,
  url: string,
  ids: { readonly lost: string; readonly draining: string },
  openDrainGate: () => Promise<void>
): Promise<NarrowSeen> => {
  const pageErrors: Array<string> = []
  const page = await openTab(context, pageErrors)
  await page.setViewportSize({ width: 375, height: 780 })
  const status = page.getByTestId("run-status")
  const widths: Array<number> = []

  // a lost run, opened by its URL in a new tab: the token first, then the run
  await page.goto(`${url}/#/runs/${ids.lost}`)
  await enterToken(page)
  await page.locator(`[data-testid="run-id"]`, { hasText: ids.lost }).waitFor()
  await statusIs(page, "lost")
  await page.getByTestId("lost-note").waitFor()
  await page.getByTestId("resume").waitFor()
  await page.locator(`[data-testid="timeline-step"]`).first().waitFor()
  const lost = {
    id: (await page.getByTestId("run-id").textContent()) ?? "",
    status: (await status.textContent()) ?? "",
    note: (await page.getByTestId("lost-note").textContent()) ?? "",
    rows: await count(page, `[data-testid="timeline-step"]`)
  }
  widths.push(await pageWidth(page))
  const resumeTag = await page.getByTestId("resume").evaluate((node) => node.tagName)

  // its Resume button finishes it
  await page.getByTestId("resume").click()
  await statusIs(page, "completed")
  await page.getByTestId("result").waitFor()
  await page.locator(`[data-testid="timeline-attempt"][data-attempt="2"][data-status="completed"]`).waitFor()
  const completed = await timelineOf(page)
  const resultText = (await page.getByTestId("result").textContent()) ?? ""
  widths.push(await pageWidth(page))
  const timelineScrolls = await page.getByTestId("timeline").evaluate((box) => box.scrollWidth > box.clientWidth)
  // the timeline's steps are reachable from the keyboard
  await page.getByTestId("timeline-step").first().focus()
  await page.keyboard.press("Enter")
  await page.getByTestId("step-details").waitFor()
  const details = (await page.getByTestId("step-details").textContent()) ?? ""
  await page.screenshot({ path: join(SCREENSHOTS, "04-narrow-lost-resumed.png"), fullPage: true })

  // a stop that drains: cancelling until the run lets go
  await page.locator(`[data-testid="run-row"][data-id="${ids.draining}"] a`).click()
  await page.locator(`[data-testid="run-id"]`, { hasText: ids.draining }).waitFor()
  await statusIs(page, "running")
  await page.getByTestId("stop").click()
  await page.getByTestId("stop-reason").selectOption("priority_override")
  await page.getByTestId("stop-confirm").click()
  await statusIs(page, "cancelling")
  await page.getByTestId("banner").waitFor()
  const draining = {
    status: (await status.textContent()) ?? "",
    banner: (await page.getByTestId("banner").textContent()) ?? "",
    stopDisabled: await page.getByTestId("stop").isDisabled()
  }
  widths.push(await pageWidth(page))
  await page.screenshot({ path: join(SCREENSHOTS, "05-narrow-cancelling.png") })
  await openDrainGate()
  await statusIs(page, "interrupted")
  const drained = (await status.textContent()) ?? ""

  // a run that does not exist: the server's message, not a status code
  await page.goto(`${url}/#/runs/page-missing`)
  await page.locator(`[data-testid="run-error"]`, { hasText: "No execution" }).waitFor()
  const missing = (await page.getByTestId("run-error").textContent()) ?? ""
  widths.push(await pageWidth(page))
  await page.close()
  return {
    lost,
    resumeTag,
    completed,
    resultText,
    details,
    draining,
    drained,
    missing,
    widths,
    timelineScrolls,
    // the browser logs the 404 of the unknown run's request
    pageErrors: pageErrors.filter((e) => !e.includes("status of 404"))
  }
}

/** What a process killed in the middle of a `gated` run leaves: a journal without its end, no lease. */
const lostJournal = (id: string, gate: string): ReadonlyArray<JournalRecord> => {
  const at = (ms: number) => new Date(Date.now() - 90_000 + ms).toISOString()
  return [
    { _tag: "RunStarted", stateId: id, attempt: 1, timestamp: at(0), workflow: "gated", input: { gate }, startedBy: "carol" },
    {
      _tag: "StepCompleted",
      address: "prepare::tool_call",
      occurrence: 1,
      actor: "prepare",
      kind: "tool",
      attempt: 1,
      idempotencyKey: `${id}::prepare::tool_call#1`,
      timestamp: at(250),
      executionTime: 240,
      result: `prepared ${gate}`
    }
  ]
}

describe("Page", () => {
  layer(serverLayer(), { excludeTestServices: true })("in Chromium", (it) => {
    it.effect("a run's life: live events and timeline, Stop, banner, reload by URL, Resume, result, back/forward", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const { context } = yield* launch
        const seen = yield* Effect.promise(() => drive(context, url))
        assert.match(seen.executionId, /^research-\d{8}-\d{6}-[0-9a-f]{6}$/)
        assert.strictEqual(seen.hashAfterStart, `#/runs/${seen.executionId}`)
        assert.deepStrictEqual(seen.statuses, ["running", "interrupted", "completed"])
        assert.isAtLeast(seen.eventCountBeforeStop, 3)
        assert.strictEqual(seen.bannerReason, "user_cancelled")
        assert.strictEqual(seen.bannerBy, "alice")
        assert.strictEqual(seen.bannerMessage, "wrong topic")
        assert.strictEqual(seen.bannerCheckpoint, `${seen.executionId} (saved)`)
        assert.include(seen.eventsText, "■ interrupt: user_cancelled by alice — wrong topic")
        assert.include(seen.eventsText, "— resumed from checkpoint —")
        assert.include(seen.eventsText, "↺ planner::plan::llm_call recovered") // replayed, not run again
        assert.include(seen.eventsText, TOPIC)

        // the interrupted attempt: its interrupt line, one band, the stopped steps in the interrupt's colour
        assert.deepStrictEqual(seen.interrupted.interrupts, ["1"])
        assert.deepStrictEqual(seen.interrupted.attempts, ["1"])
        assert.include(seen.interrupted.statuses, "interrupted")
        assert.include(seen.interrupted.addresses, "planner::summarise::llm_call")
        // the summary's stream had begun: its partial output is the start of the summary
        const summary = (seen.info.result as { readonly summary: string }).summary
        assert.isAbove(seen.partialOutput.length, 0)
        assert.isTrue(summary.startsWith(seen.partialOutput.trim()), `${seen.partialOutput} is not the start of ${summary}`)

        // the URL shows the run after a reload, with its timeline rebuilt from the history
        assert.deepStrictEqual(seen.reloaded, {
          id: seen.executionId,
          status: "interrupted",
          rows: seen.interrupted.rows,
          hash: `#/runs/${seen.executionId}`
        })

        // resumed and completed: one row per step, the replayed steps hatched, two attempt bands, the
        // interrupt line in the first
        assert.strictEqual(seen.info.status, "completed")
        assert.strictEqual(seen.info.runs, 2)
        assert.strictEqual(seen.info.progress.total, 6)
        assert.strictEqual(seen.completed.rows, seen.info.progress.total)
        assert.deepStrictEqual([...seen.completed.addresses].sort(), [
          "planner::agent_call",
          "planner::plan::llm_call",
          "planner::search::news::tool_call",
          "planner::search::papers::tool_call",
          "planner::search::web::tool_call",
          "planner::summarise::llm_call"
        ])
        assert.isAtLeast(seen.info.progress.recovered, 1)
        assert.strictEqual(seen.completed.recovered, seen.info.progress.recovered)
        assert.strictEqual(seen.completed.hatched, seen.info.progress.recovered)
        assert.deepStrictEqual(seen.completed.attempts, ["1", "2"])
        assert.deepStrictEqual(seen.completed.interrupts, ["1"])
        assert.include(seen.completed.statuses, "retried") // news fails once, then is retried
        assert.notInclude(seen.completed.statuses, "running")
        // the result in full, pretty-printed; progress agrees with the runs table
        assert.strictEqual(seen.resultText, JSON.stringify(seen.info.result, null, 2))
        assert.include(seen.resultText, summary)
        assert.match(seen.progressText, /^6 of 6 steps done/)
        assert.strictEqual(seen.rowSteps, "6 / 6")

        // back and forward move between the runs' URLs
        assert.strictEqual(seen.back, seen.executionId)
        assert.strictEqual(seen.forward, seen.xssId)
        assert.notStrictEqual(seen.xssId, seen.executionId)
        // event text is shown as text, never run as HTML
        assert.include(seen.xssEvents, XSS_TOPIC.replace(/"/g, '\\"'))
        assert.strictEqual(seen.injected, 0)
        assert.isUndefined(seen.xss)
        // the token lives in this tab's sessionStorage only
        assert.strictEqual(seen.sessionToken, TOKEN)
        assert.strictEqual(seen.localStorageKeys, 0)
        assert.deepStrictEqual(seen.pageErrors, [])
        // nothing but its own origin: no external resource
        assert.isAbove(seen.requests.length, 5)
        assert.deepStrictEqual(seen.requests.filter((r) => !r.startsWith(`${url}/`)), [])
        assert.isAtLeast(seen.runsRows, 2)
      }), 60_000)

    it.effect("at 375 px: a lost run by its URL, resumed by its button; cancelling while a stop drains; readable errors", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const store = yield* CheckpointStore
        const gate = freshGate("page-lost")
        const lostId = `page-lost-${Date.now()}`
        yield* store.append(lostId, lostJournal(lostId, gate))
        yield* openGate(gate) // once resumed, its wait step passes at once
        const drainGate = freshGate("page-drain")
        const drainingId = yield* start("gated", { gate: drainGate })
        const { context } = yield* launch
        const seen = yield* Effect.promise(() =>
          driveNarrow(context, url, { lost: lostId, draining: drainingId }, () => Effect.runPromise(Effect.asVoid(openGate(drainGate))))
        )
        assert.deepStrictEqual(seen.lost, { id: lostId, status: "lost", note: seen.lost.note, rows: 1 })
        assert.include(seen.lost.note, "Resume")
        assert.strictEqual(seen.resumeTag, "BUTTON")
        // resumed: prepare replayed (hatched), wait and finish run, two attempts
        assert.deepStrictEqual(seen.completed.addresses, ["prepare::tool_call", "wait::tool_call", "finish::tool_call"])
        assert.strictEqual(seen.completed.recovered, 1)
        assert.strictEqual(seen.completed.hatched, 1)
        assert.deepStrictEqual(seen.completed.attempts, ["1", "2"])
        assert.deepStrictEqual(seen.completed.interrupts, [])
        assert.strictEqual(seen.resultText, `finished ${gate}`)
        assert.include(seen.details, "prepare::tool_call")
        // a draining stop: cancelling, Stop disabled, then interrupted
        assert.strictEqual(seen.draining.status, "cancelling")
        assert.include(seen.draining.banner, "Stopping")
        assert.include(seen.draining.banner, "priority_override")
        assert.isTrue(seen.draining.stopDisabled)
        assert.strictEqual(seen.drained, "interrupted")
        // the server's message, not a status code
        assert.strictEqual(seen.missing, `No execution "page-missing"`)
        // never wider than the screen: the timeline scrolls in its own box
        for (const width of seen.widths) assert.isAtMost(width, 375)
        assert.isTrue(seen.timelineScrolls)
        assert.deepStrictEqual(seen.pageErrors, [])
      }), 60_000)
  })
})
