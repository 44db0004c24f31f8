/**
 * Accessibility of every view, checked by axe-core (4.14.1) in Chromium: the fleet, a session with
 * an approval pending, a session's history, the new-session form, the inbox, the notification
 * settings, in light and dark, and the inbox and a session on a phone. No serious or critical
 * violation is allowed; the rules that fail are printed with their elements.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Client } from "../../../packages/client-sdk/dist/node.js"
import { launch } from "../helpers/browser.js"
import { type Server, sdkClient, startServer, tempDir } from "../helpers/server.js"

// Evaluated through the DevTools protocol: the page's CSP (rightly) refuses an injected script tag.
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8")

let server: Server
let sdk: Client.Client
let approvalSession: string
let approvalRequest: string
let askingSession: string

interface Violation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly targets: ReadonlyArray<string>
}

/** axe's serious and critical violations on the page as it is now. */
const violations = async (page: Page): Promise<ReadonlyArray<Violation>> => {
  await page.evaluate(axeSource)
  const found = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: Array<any> }> } }).axe
    const result = await axe.run(document, { resultTypes: ["violations"] })
    return result.violations.map((v) => ({
      id: v.id as string,
      impact: v.impact as string | null,
      help: v.help as string,
      targets: (v.nodes as Array<{ target: Array<string> }>).slice(0, 5).map((n) => n.target.join(" "))
    }))
  })
  return found.filter((v) => v.impact === "serious" || v.impact === "critical")
}

const open = async (browser: BrowserContext, hash: string): Promise<Page> => {
  const page = await browser.newPage()
  await page.goto(server.pageUrl)
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
  if (hash !== "") await page.evaluate((h) => (window.location.hash = h), hash)
  return page
}

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir("orbitdock-a11y-e2e-") })
  sdk = await sdkClient(server)
  await sdk.createSession({ provider: "sim", cwd: "/work/quiet", prompt: "hello there" })
  approvalSession = await sdk.createSession({ provider: "sim", cwd: "/work/needs-approval", prompt: "/exec make deploy" })
  askingSession = await sdk.createSession({ provider: "sim", cwd: "/work/asking", prompt: "/ask Which port?" })
  const pending = await sdk.subscribeSession(approvalSession)
  approvalRequest =
    pending.pending_approval?.id ??
    (await sdk.waitFor((m) => m.sessions.get(approvalSession as never)?.pending_approval != null)).sessions.get(approvalSession as never)!.pending_approval!.id
})

afterAll(async () => {
  await sdk?.close().catch(() => {})
  await server?.stop("SIGTERM").catch(() => {})
})

const views: ReadonlyArray<readonly [string, () => string, string]> = [
  ["the fleet", () => "", '[data-testid="overview"]'],
  ["a session with an approval pending", () => `#/s/${approvalSession}`, '[data-testid="approval-command"]'],
  ["a session with a question", () => `#/s/${askingSession}`, '[data-testid="session-view"]'],
  ["the new-session form", () => "#/new", "form"],
  ["the inbox", () => "#/inbox", '[data-testid="inbox-item"]'],
  ["the notification settings", () => "#/notify", '[data-testid="notify-settings"]'],
  ["the paired devices", () => "#/devices", '[data-testid="devices"] h3'],
  ["the approval rules", () => "#/rules", '[data-testid="rule-form"]'],
  ["a rule from a pending request", () => `#/rules/from/${approvalSession}/${approvalRequest}`, '[data-testid="rule-preview"]']
]

/** Each view's serious and critical violations, by view; empty when all pass. */
const checkViews = async (browser: BrowserContext, which: typeof views): Promise<Record<string, ReadonlyArray<Violation>>> => {
  const found: Record<string, ReadonlyArray<Violation>> = {}
  for (const [name, hash, ready] of which) {
    const page = await open(browser, hash())
    await page.locator(ready).first().waitFor()
    const v = await violations(page)
    if (v.length > 0) found[name] = v
    await page.close()
  }
  return found
}

describe("accessibility (axe-core)", () => {
  for (const scheme of ["light", "dark"] as const) {
    it(`has no serious or critical violation in any view (${scheme})`, async () => {
      const browser = await launch({ colorScheme: scheme })
      try {
        expect(await checkViews(browser, views)).toEqual({})
      } finally {
        await browser.close()
      }
    })
  }

  it("has no serious or critical violation on a phone (the inbox, a session)", async () => {
    const browser = await launch({ phone: true })
    try {
      expect(await checkViews(browser, [views[4]!, views[1]!])).toEqual({})
    } finally {
      await browser.close()
    }
  })
})
