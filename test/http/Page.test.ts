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
 * 3. Human in the loop: the `asking` run waits for a choice: the status says `awaiting`, the runs
 *    table says `awaiting · 1 question` and "Needs me" shows only such runs; the "✋ Waiting for you"
 *    card shows the prompt and one button per choice; "b" continues the run to its result; the wait is
 *    striped on the timeline and the events say `✋ waiting for you` and `✓ answered`.
 * 4. At 375 px, the `reviewing` run: a form from the answer's JSON Schema whose value the server
 *    refuses (its message in the card, the form kept), a JSON answer that does not parse (said in the
 *    card, nothing sent), an approval the run is parked on, rejected with a reason from the keyboard
 *    (the run resumes and completes); and an answer that someone else gave first (409: the server's
 *    message in the card).
 *
 * Screenshots go to test-output/screenshots/; with UPDATE_DOCS_SCREENSHOTS=1 the README's
 * docs/serve-page.png (a run stopped by the user, banner and Resume), docs/serve-timeline.png (the
 * timeline of that run once resumed and completed) and docs/serve-awaiting.png (a run waiting for a
 * choice: the card, the runs that need the user) are written too.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { CheckpointStore, ExecutionInfo, Executions, type JournalRecord } from "../../src/index.ts"
import { awaitStatus, baseUrl, freshGate, openGate, serverLayer, start, TOKEN, TOKEN_BOB } from "./utils.ts"

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
  // the plan's tokens arrived live, on one line that grew as they came
  await page.locator(`[data-testid="output"][data-address="planner::plan::llm_call"]`, { hasText: "┆ web, papers, news" })
    .waitFor()
  await page.locator(`[data-testid="event"][data-kind="group"]`).first().waitFor()
  // the summary streams: its bar grows on the timeline
  await page.locator(`[data-testid="timeline-step"][data-address="planner::summarise::llm_call"] [data-status="running"]`)
    .waitFor({ timeout: 15_000 })
  // ... and its first tokens have arrived (the model takes half a second to start answering)
  await page.locator(`[data-testid="output"][data-address="planner::summarise::llm_call"]`).waitFor({ timeout: 15_000 })
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

// -----------------------------------------------------------------------------
// 3. Human in the loop: a choice
// -----------------------------------------------------------------------------

interface AskingSeen {
  readonly executionId: string
  readonly status: string
  readonly prompt: string
  readonly choices: ReadonlyArray<string | null>
  readonly choiceLabels: ReadonlyArray<string>
  readonly inputId: string
  readonly rowQuestions: string
  readonly rowText: string
  readonly needsMeCount: string
  readonly needsMeStatuses: ReadonlyArray<string | null>
  readonly needsMeIds: ReadonlyArray<string | null>
  readonly allIds: ReadonlyArray<string | null>
  readonly waitingAfter: boolean
  readonly answeredNote: string
  readonly resultText: string
  readonly eventsText: string
  readonly waits: ReadonlyArray<{ readonly input: string | null; readonly state: string | null; readonly row: string | null }>
  readonly statuses: ReadonlyArray<string | null>
  readonly legend: string
  readonly pageErrors: ReadonlyArray<string>
}

const driveAsking = async (context: BrowserContext, url: string, topic: string, quickId: string): Promise<AskingSeen> => {
  const pageErrors: Array<string> = []
  const page = await openTab(context, pageErrors)
  await page.goto(url)
  await enterToken(page)
  await page.locator(`[data-testid="workflow"] option[value="asking"]`).waitFor({ state: "attached" })
  await page.getByTestId("workflow").selectOption("asking")
  await page.getByTestId("input").fill(JSON.stringify({ topic }))
  await page.getByTestId("start").click()

  // the run waits: its status, the card with the prompt and one button per choice
  await statusIs(page, "awaiting")
  const status = (await page.getByTestId("run-status").textContent()) ?? ""
  const executionId = (await page.getByTestId("run-id").textContent()) ?? ""
  const ask = page.getByTestId("ask")
  await ask.getByTestId("ask-prompt").waitFor()
  const prompt = (await ask.getByTestId("ask-prompt").textContent()) ?? ""
  const choices = await attributes(page, `[data-testid="ask"] [data-testid="choice"]`, "data-value")
  const choiceLabels = await page.locator(`[data-testid="ask"] [data-testid="choice"]`).allTextContents()
  const inputId = (await ask.getAttribute("data-input-id")) ?? ""

  // the runs table says it waits; "Needs me" shows only the runs that wait
  const row = page.locator(`[data-testid="run-row"][data-id="${executionId}"]`)
  await row.locator(`[data-testid="run-questions"]`).waitFor()
  const rowQuestions = (await row.locator(`[data-testid="run-questions"]`).textContent()) ?? ""
  const rowText = (await row.locator("td").nth(1).textContent()) ?? ""
  await page.locator(`[data-testid="run-row"][data-id="${quickId}"]`).waitFor()
  await page.getByTestId("needs-me").click()
  await page.locator(`[data-testid="needs-me"][aria-pressed="true"]`).waitFor()
  await row.waitFor()
  const needsMeCount = (await page.getByTestId("needs-me-count").textContent()) ?? ""
  const needsMeStatuses = await attributes(page, `[data-testid="run-row"]`, "data-status")
  const needsMeIds = await attributes(page, `[data-testid="run-row"]`, "data-id")
  await page.evaluate("window.scrollTo(0, 0)")
  await page.screenshot({ path: join(DOCS, "serve-awaiting.png") })
  await page.emulateMedia({ colorScheme: "dark" })
  await page.screenshot({ path: join(SCREENSHOTS, "06-awaiting-dark.png") })
  await page.emulateMedia({ colorScheme: "light" })
  await page.getByTestId("needs-me").click()
  await page.locator(`[data-testid="run-row"][data-id="${quickId}"]`).waitFor()
  const allIds = await attributes(page, `[data-testid="run-row"]`, "data-id")

  // "b": the run goes on to its end
  await ask.locator(`[data-testid="choice"][data-value='"b"']`).click()
  await statusIs(page, "completed")
  await page.getByTestId("result").waitFor()
  await page.getByTestId("waiting").waitFor({ state: "hidden" })
  const waitingAfter = await page.getByTestId("waiting").isVisible()
  const answeredNote = (await page.getByTestId("answered-note").textContent()) ?? ""
  await page.locator(`[data-testid="event"][data-kind="input"]`).waitFor()
  await page.locator(`[data-testid="event"][data-kind="finished"]`, { hasText: "finished: completed" }).waitFor()
  await page.locator(`[data-testid="timeline-wait"][data-state="answered"]`).waitFor({ state: "attached" })
  const resultText = (await page.getByTestId("result").textContent()) ?? ""
  const eventsText = (await page.getByTestId("events").allTextContents()).join("\n")
  const waits = await page.locator(`[data-testid="timeline-wait"]`).evaluateAll((nodes) =>
    nodes.map((node) => ({
      input: node.getAttribute("data-input-id"),
      state: node.getAttribute("data-state"),
      row: node.parentElement?.getAttribute("data-address") ?? null
    }))
  )
  const statuses = await attributes(page, `[data-testid="timeline-bar"]`, "data-status")
  const legend = (await page.locator(`#timeline-section .legend`).textContent()) ?? ""
  await page.screenshot({ path: join(SCREENSHOTS, "06-answered.png"), fullPage: true })
  await page.close()
  return {
    executionId,
    status,
    prompt,
    choices,
    choiceLabels,
    inputId,
    rowQuestions,
    rowText,
    needsMeCount,
    needsMeStatuses,
    needsMeIds,
    allIds,
    waitingAfter,
    answeredNote,
    resultText,
    eventsText,
    waits,
    statuses,
    legend,
    pageErrors
  }
}

// -----------------------------------------------------------------------------
// 4. At 375 px: a form, a refusal, JSON, a parked approval rejected from the keyboard, a 409
// -----------------------------------------------------------------------------

interface ReviewSeen {
  readonly labels: ReadonlyArray<string>
  readonly refused: string
  readonly keptValue: string
  readonly statusAfterRefusal: string
  readonly deadline: string
  readonly jsonDefault: string
  readonly parseError: string
  readonly postsAfterParseError: number
  readonly approval: { readonly prompt: string; readonly toolInput: string; readonly buttons: ReadonlyArray<string> }
  readonly parked: { readonly note: boolean; readonly status: string; readonly attempt: string | null }
  readonly rejectFocused: boolean
  readonly resultText: string
  readonly attempts: ReadonlyArray<string | null>
  readonly attemptStatuses: ReadonlyArray<string | null>
  readonly waitStates: ReadonlyArray<string | null>
  readonly eventsText: string
  readonly conflict: { readonly message: string; readonly result: string; readonly events: string }
  readonly widths: ReadonlyArray<number>
  readonly pageErrors: ReadonlyArray<string>
}

const driveReview = async (
  context: BrowserContext,
  url: string,
  ids: { readonly review: string; readonly race: string },
  park: () => Promise<boolean>
): Promise<ReviewSeen> => {
  const pageErrors: Array<string> = []
  const posts: Array<string> = []
  const page = await openTab(context, pageErrors)
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url().includes("/inputs/")) posts.push(request.url())
  })
  await page.setViewportSize({ width: 375, height: 780 })
  const widths: Array<number> = []
  await page.goto(`${url}/#/runs/${ids.review}`)
  await enterToken(page)
  await statusIs(page, "awaiting")
  const ask = page.getByTestId("ask")

  // an object: one field per property, the required one marked; a value the server refuses
  await page.locator(`[data-testid="ask-prompt"]`, { hasText: "How many copies of launch?" }).waitFor()
  const labels = await page.locator(`[data-testid="ask-form"] label`).allTextContents()
  widths.push(await pageWidth(page))
  await ask.locator(`[data-testid="ask-field"][data-name="copies"]`).fill("9")
  await ask.getByTestId("ask-submit").click()
  await ask.locator(`[data-testid="ask-error"]`, { hasText: "Expected" }).waitFor()
  const refused = (await ask.getByTestId("ask-error").textContent()) ?? ""
  const keptValue = await ask.locator(`[data-testid="ask-field"][data-name="copies"]`).inputValue()
  const statusAfterRefusal = (await page.getByTestId("run-status").textContent()) ?? ""
  await page.screenshot({ path: join(SCREENSHOTS, "07-narrow-refused.png"), fullPage: true })
  await ask.locator(`[data-testid="ask-field"][data-name="copies"]`).fill("3")
  await ask.locator(`[data-testid="ask-field"][data-name="note"]`).fill("rush")
  await ask.getByTestId("ask-submit").click()

  // a list: JSON, with a deadline and its default; what does not parse is not sent
  await page.locator(`[data-testid="ask-prompt"]`, { hasText: "Which tags for launch?" }).waitFor()
  const deadline = (await ask.getByTestId("ask-deadline").textContent()) ?? ""
  const area = ask.locator(`textarea[data-testid="ask-field"]`)
  const jsonDefault = await area.inputValue()
  const postsBefore = posts.length
  await area.fill("[oops")
  await ask.getByTestId("ask-submit").click()
  await ask.locator(`[data-testid="ask-error"]`, { hasText: "Not valid JSON" }).waitFor()
  const parseError = (await ask.getByTestId("ask-error").textContent()) ?? ""
  const postsAfterParseError = posts.length - postsBefore
  await area.fill(`["news", "ai"]`)
  await ask.getByTestId("ask-submit").click()

  // an approval; the run is parked on it (no process holds it)
  await page.locator(`[data-testid="ask"][data-kind="approval"]`).waitFor()
  const approval = {
    prompt: (await ask.getByTestId("ask-prompt").textContent()) ?? "",
    toolInput: (await ask.getByTestId("ask-tool-input").textContent()) ?? "",
    buttons: await ask.locator(`button:visible`).allTextContents()
  }
  widths.push(await pageWidth(page))
  assert.isTrue(await park())
  await page.getByTestId("waiting-parked").waitFor()
  await page.locator(`[data-testid="event"][data-kind="finished"]`, { hasText: "finished: awaiting" }).waitFor()
  await page.locator(`[data-testid="timeline-attempt"][data-attempt="1"][data-status="awaiting"]`).waitFor({ state: "attached" })
  const parked = {
    note: await page.getByTestId("waiting-parked").isVisible(),
    status: (await page.getByTestId("run-status").textContent()) ?? "",
    attempt: await page.locator(`[data-testid="timeline-attempt"]`).first().getAttribute("data-status")
  }
  await page.screenshot({ path: join(SCREENSHOTS, "08-narrow-parked-approval.png"), fullPage: true })

  // rejected from the keyboard, with a reason: the answer resumes the run
  await ask.getByTestId("reject").focus()
  await page.keyboard.press("Enter")
  await ask.getByTestId("reject-form").waitFor()
  const rejectFocused = await ask.getByTestId("reject-reason").evaluate((node) => node === node.ownerDocument.activeElement)
  await page.keyboard.type("not this week")
  await page.keyboard.press("Enter")
  await statusIs(page, "completed", 30_000)
  await page.getByTestId("result").waitFor()
  await page.locator(`[data-testid="timeline-attempt"][data-attempt="2"][data-status="completed"]`).waitFor({ state: "attached" })
  await page.locator(`[data-testid="event"][data-kind="input"]`, { hasText: "approved" }).waitFor()
  widths.push(await pageWidth(page))
  const resultText = (await page.getByTestId("result").textContent()) ?? ""
  const attempts = await attributes(page, `[data-testid="timeline-attempt"]`, "data-attempt")
  const attemptStatuses = await attributes(page, `[data-testid="timeline-attempt"]`, "data-status")
  const waitStates = await attributes(page, `[data-testid="timeline-wait"]`, "data-state")
  const eventsText = (await page.getByTestId("events").allTextContents()).join("\n")
  await page.screenshot({ path: join(SCREENSHOTS, "09-narrow-rejected.png"), fullPage: true })

  // someone else answers first (between the click and the server): the server's 409 message
  await page.route(`**/api/executions/${ids.race}/inputs/**`, async (route) => {
    const response = await fetch(route.request().url(), {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN_BOB}`, "content-type": "application/json" },
      body: JSON.stringify({ value: "a" })
    })
    if (response.status !== 200) throw new Error(`bob's answer: HTTP ${response.status}`)
    await route.continue()
  })
  await page.goto(`${url}/#/runs/${ids.race}`)
  await statusIs(page, "awaiting")
  await ask.locator(`[data-testid="choice"][data-value='"b"']`).click()
  await ask.locator(`[data-testid="ask-error"]`, { hasText: "answered already" }).waitFor()
  const message = (await ask.getByTestId("ask-error").textContent()) ?? ""
  widths.push(await pageWidth(page))
  await ask.getByTestId("ask-dismiss").click()
  await page.getByTestId("waiting").waitFor({ state: "hidden" })
  await statusIs(page, "completed")
  await page.getByTestId("result").waitFor()
  await page.locator(`[data-testid="event"][data-kind="input"]`).waitFor()
  const conflict = {
    message,
    result: (await page.getByTestId("result").textContent()) ?? "",
    events: (await page.getByTestId("events").allTextContents()).join("\n")
  }
  await page.unrouteAll({ behavior: "wait" })
  await page.close()
  return {
    labels,
    refused,
    keptValue,
    statusAfterRefusal,
    deadline,
    jsonDefault,
    parseError,
    postsAfterParseError,
    approval,
    parked,
    rejectFocused,
    resultText,
    attempts,
    attemptStatuses,
    waitStates,
    eventsText,
    conflict,
    widths,
    // the browser logs the refused answers' responses (400, 409)
    pageErrors: pageErrors.filter((e) => !/status of (400|409)/.test(e))
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

    it.effect("human in the loop: the waiting card, its choices, Needs me, the answer, the wait on the timeline", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const quickId = yield* start("quick", { n: 2 })
        yield* awaitStatus(quickId, (i) => i.status === "completed")
        const topic = `page-${Date.now()}`
        const { context } = yield* launch
        const seen = yield* Effect.promise(() => driveAsking(context, url, topic, quickId))
        assert.strictEqual(seen.status, "awaiting")
        assert.strictEqual(seen.prompt, `Which ending for ${topic}?`)
        // only the valid choices, labelled with their JSON
        assert.deepStrictEqual(seen.choices, [`"a"`, `"b"`])
        assert.deepStrictEqual(seen.choiceLabels, [`"a"`, `"b"`])
        assert.match(seen.inputId, /^in-[0-9a-f]{8}$/)
        // the runs table: awaiting · 1 question; "Needs me" shows the waiting runs only
        assert.strictEqual(seen.rowQuestions, " · 1 question")
        assert.strictEqual(seen.rowText, "awaiting · 1 question")
        assert.isAtLeast(Number(seen.needsMeCount), 1)
        assert.include(seen.needsMeIds, seen.executionId)
        assert.notInclude(seen.needsMeIds, quickId)
        assert.deepStrictEqual(new Set(seen.needsMeStatuses), new Set(["awaiting"]))
        assert.strictEqual(seen.needsMeIds.length, Number(seen.needsMeCount))
        assert.includeMembers([...seen.allIds], [seen.executionId, quickId])
        // answered: the run completes with the choice, the card goes
        assert.strictEqual(seen.resultText, `finished ${topic}-b`)
        assert.isFalse(seen.waitingAfter)
        assert.strictEqual(seen.answeredNote, `✓ Answered ${seen.inputId}: "b" (by alice).`)
        // the events, worded as the CLI words them
        assert.include(seen.eventsText, `✋ waiting for you: Which ending for ${topic}? — one of "a", "b" [${seen.inputId} at ask::agent_call]`)
        assert.include(seen.eventsText, `✓ answered ${seen.inputId}: "b" (by alice)`)
        // the timeline: the wait striped on the asking step's row, from the question to its answer
        assert.deepStrictEqual(seen.waits, [{ input: seen.inputId, state: "answered", row: "ask::agent_call" }])
        assert.notInclude(seen.statuses, "awaiting")
        assert.notInclude(seen.statuses, "running")
        assert.include(seen.legend, "waiting for you")
        const info = yield* Effect.promise(() => infoOf(url, seen.executionId))
        assert.strictEqual(info.status, "completed")
        assert.deepStrictEqual(info.inputs, [])
        assert.deepStrictEqual(seen.pageErrors, [])
      }), 60_000)

    it.effect("the demo's approval: Approve continues the run to its result; the wait is on the timeline", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const id = yield* start("research", { topic: "approve from the page", pace: 0.05, ask: true })
        yield* awaitStatus(id, (i) => i.status === "awaiting")
        const { context } = yield* launch
        const seen = yield* Effect.promise(async () => {
          const pageErrors: Array<string> = []
          const page = await openTab(context, pageErrors)
          await page.goto(`${url}/#/runs/${id}`)
          await enterToken(page)
          await statusIs(page, "awaiting")
          const ask = page.getByTestId("ask")
          await page.locator(`[data-testid="ask-prompt"]`, { hasText: "Publish this summary?" }).waitFor()
          await ask.getByTestId("approve").click()
          await statusIs(page, "completed", 30_000)
          await page.getByTestId("result").waitFor()
          await page.locator(`[data-testid="timeline-wait"][data-state="answered"]`).waitFor({ state: "attached" })
          const seen = {
            result: (await page.getByTestId("result").textContent()) ?? "",
            events: (await page.getByTestId("events").allTextContents()).join("\n"),
            waits: await attributes(page, `[data-testid="timeline-wait"]`, "data-state"),
            pageErrors
          }
          await page.close()
          return seen
        })
        assert.include(seen.result, `"published": true`)
        assert.match(seen.events, /✓ answered in-[0-9a-f]{8}: \{"approved":true\} \(by alice\)/)
        assert.deepStrictEqual(seen.waits, ["answered"])
        assert.deepStrictEqual(seen.pageErrors, [])
        const info = yield* awaitStatus(id, (i) => i.status === "completed")
        assert.deepStrictEqual(info.result, { ...(info.result as object), published: true })
      }), 60_000)

    it.effect("at 375 px: a form the server refuses, JSON that does not parse, a parked approval rejected from the keyboard, a 409", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const executions = yield* Executions
        const review = yield* start("reviewing", { topic: "launch" })
        yield* awaitStatus(review, (i) => i.status === "awaiting")
        const race = yield* start("asking", { topic: "race" })
        yield* awaitStatus(race, (i) => i.status === "awaiting")
        const { context } = yield* launch
        const seen = yield* Effect.promise(() =>
          driveReview(context, url, { review, race }, () => Effect.runPromise(executions.park(review)))
        )
        // the object's fields: copies required (marked), note optional, with the schema's limits
        assert.deepStrictEqual(seen.labels, ["copies * — a whole number, 1 to 5", "note (optional)"])
        // the server's message, in the card; nothing changed, what was typed is kept
        assert.strictEqual(seen.refused, `Expected a value between 1 and 5 at ["copies"]`)
        assert.strictEqual(seen.keptValue, "9")
        assert.strictEqual(seen.statusAfterRefusal, "awaiting")
        // a deadline says what happens then; the JSON answer starts from the default
        assert.match(seen.deadline, /^⏱ Answer by .+ \(in (1 h|59 min( \d+ s)?)\); then the default is the answer: \["general"\]\.$/)
        assert.deepStrictEqual(JSON.parse(seen.jsonDefault), ["general"])
        assert.match(seen.parseError, /^Not valid JSON: .+\. Nothing was sent\.$/)
        assert.strictEqual(seen.postsAfterParseError, 0)
        // the approval: its tool and input, Approve and Reject
        assert.strictEqual(seen.approval.prompt, `Approve publish with "launch x3 (rush) [news, ai]"?`)
        assert.strictEqual(seen.approval.toolInput, "launch x3 (rush) [news, ai]")
        assert.deepStrictEqual(seen.approval.buttons, ["Approve", "Reject…"])
        // parked: still awaiting, said so, its attempt ends its band
        assert.deepStrictEqual(seen.parked, { note: true, status: "awaiting", attempt: "awaiting" })
        assert.isTrue(seen.rejectFocused)
        // the rejection resumed it: a second attempt completes with it
        assert.strictEqual(seen.resultText, "not published: not this week")
        assert.deepStrictEqual(seen.attempts, ["1", "2"])
        assert.deepStrictEqual(seen.attemptStatuses, ["awaiting", "completed"])
        assert.deepStrictEqual(seen.waitStates, ["answered", "answered", "parked"])
        assert.include(seen.eventsText, "⏸ finished: awaiting — waiting for an answer")
        assert.match(seen.eventsText, /✓ answered in-[0-9a-f]{8}: \{"approved":false,"reason":"not this week"\} \(by alice\)/)
        assert.match(seen.eventsText, /✓ answered in-[0-9a-f]{8}: \{"copies":3,"note":"rush"\} \(by alice\)/)
        // answered by someone else first: the server's message, and their answer stands
        assert.match(seen.conflict.message, new RegExp(`^Input in-[0-9a-f]{8} of ${race} was answered already: the first answer stands$`))
        assert.strictEqual(seen.conflict.result, "finished race-a")
        assert.match(seen.conflict.events, /✓ answered in-[0-9a-f]{8}: "a" \(by bob\)/)
        for (const width of seen.widths) assert.isAtMost(width, 375)
        assert.deepStrictEqual(seen.pageErrors, [])
      }), 60_000)
  })
})
