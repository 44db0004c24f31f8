/**
 * Approval rules from the page, in Chromium against the real server: a pending request shows what
 * it could do; "Make a rule…" opens the rules view with a rule that would allow it, previewed
 * against the past; once added, the same request is answered by the rule before anyone sees it;
 * the rule is removed from the page.
 */
import * as path from "node:path"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Client } from "../../../packages/client-sdk/dist/node.js"
import { artifactsDir, launch } from "../helpers/browser.js"
import { type Server, sdkClient, startServer, tempDir, waitUntil } from "../helpers/server.js"

let server: Server
let sdk: Client.Client
let browser: BrowserContext
let page: Page
const shots = artifactsDir()

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir("orbitdock-rules-e2e-") })
  sdk = await sdkClient(server)
  browser = await launch()
  page = await browser.newPage()
  page.on("pageerror", (error) => console.error("page error:", error))
  await page.goto(server.pageUrl)
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
})

afterAll(async () => {
  await browser?.close()
  await sdk?.close().catch(() => {})
  await server?.stop("SIGTERM").catch(() => {})
})

describe("rules from the page", () => {
  it("a rule made from a pending request, previewed, added, deciding the next one, removed", async () => {
    const id = await sdk.createSession({ provider: "sim", cwd: "/work/site" })
    await sdk.subscribeSession(id)
    await sdk.sendMessage(id, "/exec git status --short")
    await page.goto(`${server.url}/#/s/${id}`)
    const approval = page.locator('[data-testid="approval"]')
    await approval.waitFor()
    expect(await approval.locator('[data-testid="approval-risk"] [data-risk]').evaluateAll((els) => els.map((e) => e.getAttribute("data-risk")))).toEqual([
      "read_only"
    ])

    await approval.locator('[data-testid="make-rule"]').click()
    await page.locator('[data-testid="rule-from-request"]', { hasText: "git status --short" }).waitFor()
    expect(await page.locator('[data-testid="rule-command"]').inputValue()).toBe("git status --short")
    expect(await page.locator('[data-testid="rule-scope"]').inputValue()).toBe("project")
    // The preview already ran: the pending request itself would have been allowed.
    await page.locator('[data-testid="rule-preview-change"]', { hasText: "1 ask → allow" }).waitFor()
    await page.screenshot({ path: path.join(shots, "rules-from-request.png") })
    await page.locator('[data-testid="rule-add"]').click()
    await page.locator('[data-testid="rule"]', { hasText: "git status --short" }).waitFor()
    const [rule] = await sdk.listRules()
    expect(rule).toMatchObject({ effect: "allow", scope: { kind: "project", cwd: "/work/site" }, match: { command: "git status --short" } })

    // The pending request was asked before the rule: the person answers it; the next is the rule's.
    const pending = sdk.session(id)!.pending_approval!
    await sdk.approveTool(id, pending.id, true)
    await sdk.sendMessage(id, "/exec git status --short")
    await waitUntil(() => (sdk.session(id)!.messages.filter((m) => m.content === "echo: done").length === 2 ? true : undefined))
    const events = await server.get(`/api/sessions/${id}/events`)
    const resolved = events.events.filter((e: any) => e.type === "approval_resolved").map((e: any) => e.data)
    expect(resolved.at(-1)).toMatchObject({ outcome: "approved", decided_by: { rule_ids: [rule!.id] } })

    await page.goto(`${server.url}/#/rules`)
    await page.locator('[data-testid="rule"]').first().waitFor()
    await page.locator('[data-testid="rule-remove"]').first().click()
    await page.locator('[data-testid="rules-status"]', { hasText: "removed" }).waitFor()
    expect(await sdk.listRules()).toEqual([])
  })

  it("a deny rule for destructive commands, written in the form and previewed", async () => {
    await page.goto(`${server.url}/#/rules`)
    await page.locator('[data-testid="rule-form"]').waitFor()
    await page.locator('[data-testid="rule-effect"]').selectOption("deny")
    await page.locator('[data-testid="rule-risk-destructive"]').check()
    await page.locator('[data-testid="rule-preview-button"]').click()
    await page.locator('[data-testid="rule-preview"]').waitFor()
    await page.locator('[data-testid="rule-add"]').click()
    await page.locator('[data-testid="rule"]', { hasText: "destructive" }).waitFor()
    const id = await sdk.createSession({ provider: "sim", cwd: "/work/site" })
    await sdk.subscribeSession(id)
    await sdk.sendMessage(id, "/exec rm -rf dist")
    await waitUntil(() => (sdk.session(id)!.messages.some((m) => m.content === "echo: denied") ? true : undefined))
  })
})
