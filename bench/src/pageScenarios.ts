/**
 * OrbitDock's scenario 12 (issue 16): the web page at fleet scale. 100 sessions stream 5,000
 * events/s while the page is open twice in Debian's Chromium (headless, driven by playwright-core
 * from the web e2e suite's own install): once on the fleet (the session list) and once on one busy
 * session. In each page the Long Tasks API records every task over 50 ms, and requestAnimationFrame
 * counts the frames drawn.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import type { Figures } from "./lib/report.js"
import { repoRoot } from "./lib/report.js"
import type { Options } from "./options.js"
import { ask, sessionId, startOrbit } from "./orbit.js"

export const S12 = "12. The page at fleet scale (Chromium)"

const SESSIONS = 100
const RATE = 5_000

/** What each page records, from before its first script runs. */
const RECORDER = `
  window.__bench = { longTasks: [], frames: 0, since: 0 }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration)
  }).observe({ type: "longtask", buffered: true })
  const tick = () => { window.__bench.frames++; requestAnimationFrame(tick) }
  requestAnimationFrame(tick)
`

interface Recorded {
  readonly longTasks: ReadonlyArray<number>
  readonly frames: number
  readonly seconds: number
}

/** The part of playwright-core used here (its types live with the e2e suite, not the bench). */
interface Locator {
  readonly waitFor: (options: { readonly timeout: number }) => Promise<void>
  readonly first: () => Locator
}
interface Page {
  readonly goto: (url: string) => Promise<unknown>
  readonly evaluate: <R, A = undefined>(f: (arg: A) => R, arg?: A) => Promise<R>
  readonly locator: (selector: string) => Locator
}
interface Context {
  readonly addInitScript: (script: string) => Promise<void>
  readonly newPage: () => Promise<Page>
}
interface Browser {
  readonly newContext: (options: Record<string, unknown>) => Promise<Context>
  readonly close: () => Promise<void>
}
interface Playwright {
  readonly chromium: { readonly launch: (options: Record<string, unknown>) => Promise<Browser> }
}

/** playwright-core as the web e2e suite installs it (kept out of a user's `npm install`). */
const playwright = async (): Promise<Playwright> => {
  const suite = path.join(repoRoot(), "e2e", "web")
  const require = createRequire(path.join(suite, "package.json"))
  try {
    require.resolve("playwright-core")
  } catch {
    execFileSync("npm", ["--prefix", suite, "install", "--no-audit", "--no-fund"], { stdio: ["ignore", "ignore", "inherit"] })
  }
  // A CommonJS package: its exports are the default export of the ES module view.
  const loaded = (await import(require.resolve("playwright-core"))) as Playwright & { readonly default?: Playwright }
  return loaded.default ?? loaded
}

const chromiumPath = process.env.ORBITDOCK_CHROMIUM ?? "/usr/bin/chromium"

export const pageAtScale = async (figures: Figures, o: Options) => {
  if (!fs.existsSync(chromiumPath)) {
    figures.note(S12, `Not measured: no Chromium at ${chromiumPath} (apt-get install chromium, or set ORBITDOCK_CHROMIUM).`)
    return
  }
  const durationMs = o.quick ? 10_000 : 60_000
  const { chromium } = await playwright()
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
  })
  const server = await startOrbit({}).catch(async (error: unknown) => {
    await browser.close()
    throw error
  })
  try {
    await ask(server, { type: "create", count: SESSIONS }, "created")
    const base = `http://127.0.0.1:${server.port}/`
    const busy = sessionId(0)
    // Each page in a context (a window) of its own: a tab behind another is not drawn.
    const open = async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      await context.addInitScript(RECORDER)
      const page = await context.newPage()
      await page.goto(`${base}#token=${server.token}`)
      return page
    }
    const fleet = await open()
    // The list is virtualized: the rows in view are in the DOM, not every session's.
    await fleet.locator(`[data-testid="fleet-row"]`).first().waitFor({ timeout: 30_000 })
    const session = await open()
    await session.evaluate((id: string) => (location.hash = `#/s/${id}`), busy)
    await session.locator(`[data-testid="session-view"][data-session-id="${busy}"]`).waitFor({ timeout: 30_000 })
    const restart = () => {
      const w = window as unknown as { __bench: { longTasks: Array<number>; frames: number; since: number } }
      w.__bench = { ...w.__bench, longTasks: [], frames: 0, since: performance.now() }
    }

    for (let run = 0; run < o.runs; run++) {
      for (const page of [fleet, session]) await page.evaluate(restart)
      await ask(server, { type: "load", rate: RATE, sessions: SESSIONS, durationMs, kind: "append" }, "loaded")
      for (const [label, page] of [["fleet (session list)", fleet], ["one busy session", session]] as const) {
        const recorded = await page.evaluate((): Recorded => {
          const b = (window as unknown as { __bench: { longTasks: Array<number>; frames: number; since: number } }).__bench
          return { longTasks: b.longTasks, frames: b.frames, seconds: (performance.now() - b.since) / 1000 }
        })
        figures.add(S12, `${label}: longest task`, "ms", Math.max(0, ...recorded.longTasks), { op: "<=", value: 50, label: "no long task over 50 ms" })
        figures.add(S12, `${label}: tasks over 50 ms`, "count", recorded.longTasks.filter((d) => d > 50).length)
        figures.add(S12, `${label}: frames/s`, "fps", recorded.frames / recorded.seconds, { op: ">=", value: 55, label: "≥ 55 fps" })
      }
    }
    figures.note(
      S12,
      `The bench server (real layers) with ${SESSIONS} sessions receiving ${RATE.toLocaleString("en")} \`message_appended\` events/s in all for ${durationMs / 1000} s a run. Two windows of one headless Chromium (${chromiumPath}, 1280×800, no GPU) show the page: one on the session list, one on session ${busy} (which gets ~${RATE / SESSIONS} events/s). Long tasks come from the Long Tasks API (every task over 50 ms), frames from a requestAnimationFrame counter; both cover the load only. Chromium and the server share the machine's cores.`
    )
  } finally {
    await browser.close()
    await server.stop()
  }
}
