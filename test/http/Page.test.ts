/**
 * The page in a real browser: Debian's Chromium driven by playwright-core. Opens the page, enters the
 * token, starts the research workflow, sees events arrive, stops it with a reason, sees the banner
 * and the interrupted status, resumes it and sees it complete. Screenshots go to
 * test-output/screenshots/.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type BrowserContext, chromium } from "playwright-core"
import { baseUrl, serverLayer, TOKEN } from "./utils.ts"

const CHROMIUM = "/usr/bin/chromium"
const SCREENSHOTS = join(import.meta.dirname, "..", "..", "test-output", "screenshots")

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
        viewport: { width: 1200, height: 860 },
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

interface Seen {
  readonly executionId: string
  readonly xssEvents: string
  readonly injected: number
  readonly statuses: ReadonlyArray<string>
  readonly bannerReason: string
  readonly bannerBy: string
  readonly bannerMessage: string
  readonly bannerCheckpoint: string
  readonly eventCountBeforeStop: number
  readonly eventsText: string
  readonly xss: unknown
  readonly sessionToken: string | null
  readonly localStorageKeys: number
  readonly pageErrors: ReadonlyArray<string>
  readonly runsRows: number
}

const drive = (context: BrowserContext, url: string): Promise<Seen> =>
  (async () => {
    mkdirSync(SCREENSHOTS, { recursive: true })
    const page = await context.newPage()
    const pageErrors: Array<string> = []
    page.on("pageerror", (error) => pageErrors.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text())
    })
    const statuses: Array<string> = []
    const status = page.getByTestId("run-status")

    await page.goto(url)
    // 1. the token, entered once
    await page.getByTestId("token-input").fill(TOKEN)
    await page.getByTestId("token-submit").click()
    await page.locator(`[data-testid="workflow"] option[value="research"]`).waitFor({ state: "attached" })
    await page.getByTestId("workflow").selectOption("research")
    await page.getByTestId("input").fill(JSON.stringify({ topic: TOPIC, pace: 1 }))

    // 2. start, and watch the events arrive live
    await page.getByTestId("start").click()
    await page.locator(`[data-testid="run-status"]`, { hasText: "running" }).waitFor()
    statuses.push((await status.textContent()) ?? "")
    const executionId = (await page.getByTestId("run-id").textContent()) ?? ""
    // the plan step completes (0.8 s), the searches run
    await page.locator(`[data-testid="event"][data-kind="execution"]`, { hasText: "✓ planner::plan::llm_call" })
      .first().waitFor({ timeout: 15_000 })
    // the plan's tokens arrived live, on one line that grew as they came
    await page.locator(`[data-testid="output"][data-address="planner::plan::llm_call"]`, { hasText: "┆ web, papers, news" })
      .waitFor()
    await page.locator(`[data-testid="event"][data-kind="group"]`).first().waitFor()
    const eventCountBeforeStop = await page.getByTestId("event").count()
    await page.screenshot({ path: join(SCREENSHOTS, "01-running.png") })

    // 3. Stop, with a reason
    await page.getByTestId("stop").click()
    await page.getByTestId("stop-form").waitFor()
    await page.getByTestId("stop-message").fill("wrong topic")
    await page.getByTestId("stop-confirm").click()
    await page.locator(`[data-testid="run-status"]`, { hasText: "interrupted" }).waitFor({ timeout: 15_000 })
    statuses.push((await status.textContent()) ?? "")
    await page.locator(`[data-testid="banner-checkpoint"]`, { hasText: "(saved)" }).waitFor()
    await page.locator(`[data-testid="event"][data-kind="finished"]`).first().waitFor()
    await page.getByTestId("resume").waitFor()
    const bannerReason = (await page.getByTestId("banner-reason").textContent()) ?? ""
    const bannerBy = (await page.getByTestId("banner-by").textContent()) ?? ""
    const bannerMessage = (await page.getByTestId("banner-message").textContent()) ?? ""
    const bannerCheckpoint = (await page.getByTestId("banner-checkpoint").textContent()) ?? ""
    await page.screenshot({ path: join(SCREENSHOTS, "02-interrupted.png") })

    // 4. Resume, and see it complete
    await page.getByTestId("resume").click()
    await page.locator(`[data-testid="run-status"]`, { hasText: "completed" }).waitFor({ timeout: 30_000 })
    statuses.push((await status.textContent()) ?? "")
    await page.locator(`[data-testid="event"][data-kind="finished"]`, { hasText: "finished: completed" }).waitFor()
    await page.locator(`[data-testid="run-row"][data-id="${executionId}"]`, { hasText: "completed" }).waitFor({
      timeout: 10_000
    })
    await page.screenshot({ path: join(SCREENSHOTS, "03-completed.png"), fullPage: true })

    const eventsText = (await page.getByTestId("events").textContent()) ?? ""

    // 5. Event text is shown as text, never run as HTML: a run whose input is markup.
    await page.getByTestId("input").fill(JSON.stringify({ topic: XSS_TOPIC, pace: 0.2 }))
    await page.getByTestId("start").click()
    await page.locator(`[data-testid="event"]`, { hasText: XSS_TOPIC.replace(/"/g, '\\"') }).first().waitFor()
    const xssEvents = (await page.getByTestId("events").textContent()) ?? ""
    const injected = await page.locator(`#events img, #events script`).count()
    const xss = await page.evaluate(() => (globalThis as { __xss?: unknown }).__xss)
    const sessionToken = await page.evaluate(() => sessionStorage.getItem("agent-interrupt-token"))
    const localStorageKeys = await page.evaluate(() => localStorage.length)
    const runsRows = await page.getByTestId("run-row").count()
    await page.close()
    return {
      executionId,
      xssEvents,
      injected,
      statuses,
      bannerReason,
      bannerBy,
      bannerMessage,
      bannerCheckpoint,
      eventCountBeforeStop,
      eventsText,
      xss,
      sessionToken,
      localStorageKeys,
      pageErrors,
      runsRows
    }
  })()

describe("Page", () => {
  layer(serverLayer(), { excludeTestServices: true })("in Chromium", (it) => {
    it.effect("start a run, see events, Stop with a reason, see the banner, Resume, see it complete", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const { context } = yield* launch
        const seen = yield* Effect.promise(() => drive(context, url))
        assert.match(seen.executionId, /^research-\d{8}-\d{6}-[0-9a-f]{6}$/)
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
        // event text is shown as text, never run as HTML
        assert.include(seen.xssEvents, XSS_TOPIC.replace(/"/g, '\\"'))
        assert.strictEqual(seen.injected, 0)
        assert.isUndefined(seen.xss)
        // the token lives in this tab's sessionStorage only
        assert.strictEqual(seen.sessionToken, TOKEN)
        assert.strictEqual(seen.localStorageKeys, 0)
        assert.deepStrictEqual(seen.pageErrors, [])
        assert.isAtLeast(seen.runsRows, 2)
      }), 60_000)
  })
})
