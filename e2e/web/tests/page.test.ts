/**
 * The mission-control page in a real browser against the real server process with sim sessions:
 * authentication through the URL (then hidden), the live fleet, approving and answering from the
 * page (buttons and keyboard), the history scrubber, a killed and restarted server, and a large
 * fleet and session (virtualized). Screenshots go to packages/web/test-artifacts/.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Client } from "../../../packages/client-sdk/dist/node.js"
import { artifactsDir, launch } from "../helpers/browser.js"
import { repoRoot, type Server, sdkClient, startServer, tempDir, waitUntil } from "../helpers/server.js"

let server: Server
let sdk: Client.Client
let browser: BrowserContext
let page: Page
const dataDir = tempDir("orbitdock-web-e2e-")
const shots = artifactsDir()

const row = (id: string) => page.locator(`[data-testid="fleet-row"][data-session-id="${id}"]`)
const messagesText = () => page.locator('[data-testid="conversation"] [data-testid="message"]').allInnerTexts()
const waitForMessage = (text: string, timeout = 15_000) =>
  page.locator('[data-testid="conversation"] [data-testid="message"]', { hasText: text }).first().waitFor({ timeout })
const connectionState = () => page.locator('[data-testid="connection"]').getAttribute("data-state")
const waitConnection = (state: string, timeout = 20_000) =>
  page.waitForFunction((s) => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === s, state, { timeout })
const openSession = async (id: string) => {
  await row(id).click()
  await page.locator(`[data-testid="session-view"][data-session-id="${id}"]`).waitFor()
}
const newSimSession = async (cwd: string): Promise<string> => sdk.createSession({ provider: "sim", cwd })

beforeAll(async () => {
  server = await startServer({ dataDir })
  sdk = await sdkClient(server)
  browser = await launch()
  page = await browser.newPage()
  page.on("pageerror", (error) => console.error("page error:", error))
})

afterAll(async () => {
  await sdk?.close().catch(() => {})
  await browser?.close().catch(() => {})
  await server?.stop("SIGTERM").catch(() => {})
})

describe("the web page", () => {
  it("is served at / without a token, takes the token from the URL once and hides it", async () => {
    const index = await fetch(`${server.url}/`)
    expect(index.status).toBe(200)
    expect(index.headers.get("content-type")).toMatch(/text\/html/)
    const api = await fetch(`${server.url}/api/sessions`)
    expect(api.status).toBe(401)

    await page.goto(server.pageUrl)
    await waitConnection("online")
    expect(page.url()).not.toContain("token")
    expect(page.url()).toBe(`${server.url}/`)
    // A reload keeps working: the token lives in sessionStorage, not in the URL.
    await page.reload()
    await waitConnection("online")
    await page.locator('[data-testid="fleet-count"]', { hasText: "of 0 sessions" }).waitFor()
  })

  it("orbitdock open: the browser opens a 0600 file in the data dir, the page signs in from the fragment and drops it", async () => {
    // `$BROWSER` is started on the file (here a no-op: the test opens the file in its own browser).
    const opened = spawnSync(process.execPath, [path.join(repoRoot, "packages/server/bin/orbitdock.js"), "open", "--data-dir", dataDir], {
      env: { ...process.env, BROWSER: "true", ORBITDOCK_TOKEN: "" },
      encoding: "utf8"
    })
    expect(opened.status).toBe(0)
    expect(opened.stdout + opened.stderr).not.toContain(server.token)
    const file = path.join(dataDir, "open.html")
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const tab = await browser.newPage()
    try {
      await tab.goto(pathToFileURL(file).href)
      await tab.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
      expect(tab.url()).toBe(`${server.url}/`)
      // The query form (an older link) still works, and is dropped as well.
      await tab.goto(`${server.url}/?token=${server.token}`)
      await tab.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
      expect(tab.url()).toBe(`${server.url}/`)
    } finally {
      await tab.close()
    }
  })

  it("shows the fleet live: new sessions, status, attention sorted first, filters", async () => {
    const quiet = await newSimSession("/work/quiet-project")
    const asking = await newSimSession("/work/asking-project")
    await row(quiet).waitFor()
    await row(asking).waitFor()
    await sdk.sendMessage(quiet, "hello there")
    await page.waitForFunction(
      (id) => document.querySelector(`[data-testid="fleet-row"][data-session-id="${id}"]`)?.getAttribute("data-status") === "waiting",
      quiet
    )
    await sdk.sendMessage(asking, "/ask Which colour?")
    await page.locator(`[data-testid="fleet-row"][data-session-id="${asking}"][data-attention="true"]`).waitFor()
    const order = await page.locator('[data-testid="fleet-row"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-session-id")))
    expect(order[0]).toBe(asking)
    expect(await page.locator('[data-testid="attention-count"]').innerText()).toContain("1 needs you")

    await page.locator('[data-testid="filter-status-working"]').click()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fleet-row"]').length === 1)
    expect(await row(asking).count()).toBe(1)
    await page.locator('[data-testid="filter-status-working"]').click()
    await page.locator('[data-testid="filter-provider-codex"]').click()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fleet-row"]').length === 0)
    await page.locator('[data-testid="filter-provider-codex"]').click()
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="fleet-row"]').length === 2)
    await page.screenshot({ path: path.join(shots, "fleet-light.png") })
  })

  it("answers a question from the page", async () => {
    const asking = sdk.sessions().find((s) => s.attention)!.id
    await openSession(asking)
    await page.locator('[data-testid="question-text"]', { hasText: "Which colour?" }).waitFor()
    await page.locator('[data-testid="answer-input"]').fill("blue")
    await page.locator('[data-testid="answer-button"]').click()
    await waitForMessage("answer: blue")
    await page.locator('[data-testid="question"]').waitFor({ state: "detached" })
    await page.locator(`[data-testid="fleet-row"][data-session-id="${asking}"][data-attention="false"]`).waitFor()
  })

  it("approves an /exec sent from the page, and the session continues", async () => {
    const id = await newSimSession("/work/exec-project")
    await row(id).waitFor()
    await openSession(id)
    await page.locator('[data-testid="composer"]').fill("/exec ls -la")
    await page.locator('[data-testid="composer"]').press("Enter")
    await page.locator('[data-testid="approval-command"]', { hasText: "ls -la" }).waitFor()
    await page.screenshot({ path: path.join(shots, "session-approval-light.png") })
    await page.locator('[data-testid="approve-once"]').click()
    await waitForMessage("echo: done")
    const tool = page.locator('[data-testid="message"][data-role="tool"]').first()
    expect(await tool.locator('[data-testid="tool-command"]').innerText()).toBe("ls -la")
    expect(await tool.locator('[data-testid="tool-status"]').innerText()).toBe("ok")
    expect(await tool.locator('[data-testid="tool-exit"]').innerText()).toBe("exit 0")
    expect(await tool.locator('[data-testid="tool-output"]').innerText()).toBe("ran: ls -la")
    await page.locator('[data-testid="session-status"]', { hasText: "waiting" }).waitFor()
    // The session goes on: a plain message streams its echo.
    await page.locator('[data-testid="composer"]').fill("still there?")
    await page.locator('[data-testid="send-button"]').click()
    await waitForMessage("echo: still there?")
    await page.screenshot({ path: path.join(shots, "session-light.png") })
  })

  it("is driven by the keyboard: a jumps to the session needing attention, y approves, d denies", async () => {
    const first = await newSimSession("/work/keyboard-one")
    const second = await newSimSession("/work/keyboard-two")
    await row(second).waitFor()
    await page.locator('[data-testid="conversation"]').click() // focus off any field
    await sdk.sendMessage(first, "/exec make test")
    await page.locator(`[data-testid="fleet-row"][data-session-id="${first}"][data-attention="true"]`).waitFor()
    await page.keyboard.press("a")
    await page.locator(`[data-testid="session-view"][data-session-id="${first}"] [data-testid="approval-command"]`).waitFor()
    await page.keyboard.press("y")
    await waitForMessage("echo: done")
    await sdk.sendMessage(second, "/exec rm -rf build")
    await page.locator(`[data-testid="fleet-row"][data-session-id="${second}"][data-attention="true"]`).waitFor()
    await page.keyboard.press("a")
    await page.locator(`[data-testid="session-view"][data-session-id="${second}"] [data-testid="approval-command"]`).waitFor()
    await page.keyboard.press("d")
    await waitForMessage("echo: denied")
    expect(await page.locator('[data-testid="attention-count"]').innerText()).toContain("nothing needs you")
  })

  it("lists what needs the person in the inbox: approves two sessions at once, marks one seen, opens one", async () => {
    const one = await newSimSession("/work/inbox-one")
    const two = await newSimSession("/work/inbox-two")
    await sdk.sendMessage(one, "/exec make one")
    await sdk.sendMessage(two, "/exec make two")
    await page.locator('[data-testid="inbox-button"]').click()
    const item = (id: string, reason: string) => page.locator(`[data-testid="inbox-item"][data-session-id="${id}"][data-reason="${reason}"]`)
    await item(one, "approval").waitFor()
    await item(two, "approval").waitFor()
    expect(await item(one, "approval").innerText()).toContain("run: make one")
    await item(one, "approval").locator('[data-testid="inbox-pick"]').check()
    await item(two, "approval").locator('[data-testid="inbox-pick"]').check()
    await page.screenshot({ path: path.join(shots, "inbox-light.png") })
    await page.locator('[data-testid="inbox-approve"]').click()
    await page.locator('[data-testid="inbox-status"]', { hasText: "approved 2" }).waitFor()
    // Both turns run on and finish: they wait for the person again.
    await item(one, "turn_finished").waitFor()
    await item(two, "turn_finished").waitFor()
    await item(one, "turn_finished").locator('[data-testid="inbox-seen"]').click()
    await page.locator(`[data-testid="inbox-item"][data-session-id="${one}"].seen`).waitFor()
    const inbox = (await server.get("/api/inbox")).items as Array<{ session_id: string; seen: boolean }>
    expect(inbox.find((i) => i.session_id === one)?.seen).toBe(true)
    await item(two, "turn_finished").locator(".inbox-open").click()
    await page.locator(`[data-testid="session-view"][data-session-id="${two}"]`).waitFor()
    await waitForMessage("echo: done")
  })

  it("creates a session from the page, interrupts its turn and ends it", async () => {
    await page.locator('[data-testid="new-session-button"]').click()
    await page.locator('[data-testid="new-provider"]').selectOption("sim")
    await page.locator('[data-testid="new-cwd"]').fill("/work/made-in-the-page")
    await page.locator('[data-testid="new-model"]').fill("sim-1")
    await page.locator('[data-testid="new-policy"]').selectOption("on-request")
    await page.locator('[data-testid="new-prompt"]').fill("/sleep 30000")
    await page.locator('[data-testid="new-submit"]').click()
    const view = page.locator('[data-testid="session-view"]')
    await view.waitFor()
    const id = (await view.getAttribute("data-session-id"))!
    const created = await server.get(`/api/sessions/${id}`)
    expect(created).toMatchObject({ provider: "sim", cwd: "/work/made-in-the-page", model: "sim-1" })
    await page.locator('[data-testid="session-status"]', { hasText: "working" }).waitFor()
    await page.locator('[data-testid="interrupt-button"]').click()
    await waitForMessage("interrupted")
    await page.locator('[data-testid="session-status"]', { hasText: "waiting" }).waitFor()
    page.once("dialog", (dialog) => void dialog.accept())
    await page.locator('[data-testid="end-button"]').click()
    await page.locator('[data-testid="session-status"]', { hasText: "ended" }).waitFor()
    expect(await page.locator('[data-testid="composer"]').isDisabled()).toBe(true)
    expect((await server.get(`/api/sessions/${id}`)).status).toBe("ended")
  })

  it("scrubs through history: an earlier revision shows the earlier state", async () => {
    const id = sdk.sessions().find((s) => s.cwd === "/work/exec-project")!.id
    await openSession(id)
    const live = await server.get(`/api/sessions/${id}`)
    await page.locator('[data-testid="history-toggle"]').click()
    await page.locator('[data-testid="scrubber"]').waitFor()
    // Starts one revision back; the buttons step.
    await page.locator('[data-testid="scrub-position"]', { hasText: `revision ${live.revision - 1} of ${live.revision}` }).waitFor()
    await page.locator('[data-testid="scrub-prev"]').click()
    await page.locator('[data-testid="scrub-prev"]').click()
    await page.locator('[data-testid="session-revision"]', { hasText: `rev ${live.revision - 3}` }).waitFor()
    await page.locator('[data-testid="scrub-next"]').click()
    await page.locator('[data-testid="session-revision"]', { hasText: `rev ${live.revision - 2}` }).waitFor()
    // Revision 1 is the session's creation: no messages at all.
    await page.locator('[aria-label="First revision"]').click()
    await page.locator('[data-testid="session-revision"]', { hasText: "rev 1" }).waitFor()
    await page.locator('[data-testid="scrub-event"]', { hasText: "session created" }).waitFor()
    await page.waitForFunction(() => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === "0")
    // Dragging: the range input moves to any revision; the page shows the server's state at it.
    const target = Math.floor(live.revision / 2)
    const past = await server.get(`/api/sessions/${id}?at_revision=${target}`)
    expect(past.messages.length).toBeLessThan(live.messages.length)
    await page.locator('[data-testid="scrub-range"]').fill(String(target))
    await page.locator('[data-testid="session-revision"]', { hasText: `rev ${target}` }).waitFor()
    await page.waitForFunction((n) => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === String(n), past.messages.length)
    expect((await messagesText()).length).toBe(past.messages.length)
    await page.screenshot({ path: path.join(shots, "session-history-light.png") })
    await page.locator('[data-testid="history-toggle"]').click()
    await page.locator('[data-testid="session-revision"]', { hasText: `rev ${live.revision}` }).waitFor()
  })

  it("recovers from a server killed mid-burst and restarted: no reload, no stale or duplicated message", async () => {
    const id = await newSimSession("/work/killed-mid-burst")
    await row(id).waitFor()
    await openSession(id)
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42))
    // Long enough to be killed in the middle of: the server folds and commits thousands of messages
    // before the page has drawn its first hundreds.
    await sdk.sendMessage(id, "/burst 100000")
    // The page shows agent activity before it is durable; kill the server in the middle of it.
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count")) >= 200, undefined, {
      timeout: 20_000
    })
    const port = server.port
    await sdk.close()
    await server.stop("SIGKILL")
    await waitConnection("reconnecting")
    server = await startServer({ dataDir, port })
    expect(server.port).toBe(port)
    sdk = await sdkClient(server)
    await waitConnection("online")
    // No reload happened: the marker set before the restart is still there.
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42)
    await page.locator('[data-testid="toast"]', { hasText: "restarted" }).waitFor()
    // The restarted server closed the dead turn; the page shows exactly the server's state.
    const after = await waitUntil(async () => {
      const state = await server.get(`/api/sessions/${id}`)
      return state.status === "waiting" ? state : undefined
    })
    expect(after.messages.at(-1).content).toBe("interrupted: server restarted")
    await page.waitForFunction((n) => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === String(n), after.messages.length)
    await page.locator('[data-testid="session-revision"]', { hasText: `rev ${after.revision}` }).waitFor()
    await waitForMessage("interrupted: server restarted")
    // The list is virtualized: right after the state is replaced, it may have laid out only the
    // last rows (their heights not measured yet). Wait for it to fill the view before reading it.
    // The page drew the burst before it was durable, so the killed server may have committed few of
    // its messages (or none): the restarted state can be shorter than a screenful.
    const screenful = Math.min(after.messages.length, 4)
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="conversation"] [data-testid="message"] .text').length >= n, screenful)
    const shown = await page.locator('[data-testid="conversation"] [data-testid="message"] .text').allInnerTexts()
    expect(shown.length).toBeGreaterThanOrEqual(screenful)
    expect(shown).toEqual(after.messages.slice(-shown.length).map((m: { content: string }) => m.content))

    // A session from before the restart: each message once, and it works on the new process.
    const exec = sdk.sessions().find((s) => s.cwd === "/work/exec-project")!.id
    await page.locator('[data-testid="filter-text"]').fill("exec-project")
    await openSession(exec)
    await page.locator('[data-testid="filter-text"]').fill("")
    const before = await server.get(`/api/sessions/${exec}`)
    await page.waitForFunction((n) => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === String(n), before.messages.length)
    expect((await messagesText()).filter((t) => t.includes("echo: done"))).toHaveLength(1)
    await page.locator('[data-testid="composer"]').fill("after the restart")
    await page.locator('[data-testid="composer"]').press("Enter")
    await waitForMessage("echo: after the restart")
    const final = await server.get(`/api/sessions/${exec}`)
    await page.waitForFunction((n) => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === String(n), final.messages.length)
    expect(await connectionState()).toBe("online")
  })

  it("stays fast with 100 sessions and a 5,000-message session (virtualized lists)", async () => {
    const before = sdk.sessions().length
    const ids = await Promise.all(
      Array.from({ length: 100 - before }, (_, i) => newSimSession(`/work/fleet/project-${String(i).padStart(3, "0")}`))
    )
    await page.locator('[data-testid="fleet-count"]', { hasText: "of 100 sessions" }).waitFor({ timeout: 30_000 })
    // Only the visible rows are in the DOM.
    expect(await page.locator('[data-testid="fleet-row"]').count()).toBeLessThan(40)
    const big = ids[0]
    await sdk.subscribeSession(big)
    await sdk.sendMessage(big, "/burst 5000")
    await sdk.waitFor((m) => m.sessions.get(big as never)?.status === "waiting", 60_000)
    const started = Date.now()
    await page.locator('[data-testid="filter-text"]').fill("project-000")
    await openSession(big)
    await page.waitForFunction(() => document.querySelector('[data-testid="conversation"]')?.getAttribute("data-count") === "5001", undefined, {
      timeout: 30_000
    })
    await waitForMessage("burst 5000")
    const openMs = Date.now() - started
    const rendered = await page.locator('[data-testid="conversation"] [data-testid="message"]').count()
    expect(rendered).toBeLessThan(60)
    console.log(`5,000-message session: opened and scrolled to the end in ${openMs} ms with ${rendered} message nodes in the DOM`)

    // At the bottom, new messages are followed; scrolled up, they are not, until "latest" is clicked.
    const distanceFromBottom = () =>
      page.evaluate(() => {
        const el = document.querySelector('[data-testid="conversation"]')!
        return el.scrollHeight - el.scrollTop - el.clientHeight
      })
    await sdk.sendMessage(big, "followed while at the bottom")
    await waitForMessage("echo: followed while at the bottom")
    await page.waitForFunction(() => {
      const el = document.querySelector('[data-testid="conversation"]')!
      return el.scrollHeight - el.scrollTop - el.clientHeight < 48
    })
    await page.locator('[data-testid="conversation"]').evaluate((el) => (el.scrollTop = el.scrollHeight / 2))
    await page.locator(".jump-bottom").waitFor()
    const scrolledTo = await page.locator('[data-testid="conversation"]').evaluate((el) => el.scrollTop)
    await sdk.sendMessage(big, "not followed while reading above")
    await sdk.waitFor((m) => m.sessions.get(big as never)?.messages.some((x) => x.content === "echo: not followed while reading above") === true)
    await page.waitForTimeout(300)
    expect(await page.locator('[data-testid="conversation"]').evaluate((el) => el.scrollTop)).toBe(scrolledTo)
    await page.locator(".jump-bottom").click()
    await waitForMessage("echo: not followed while reading above")
    expect(await distanceFromBottom()).toBeLessThan(48)
    await page.locator('[data-testid="filter-text"]').fill("")
    await page.screenshot({ path: path.join(shots, "session-5000-light.png") })
  })

  it("renders in dark mode (screenshots of the fleet and a session)", async () => {
    const dark = await launch({ colorScheme: "dark" })
    try {
      const darkPage = await dark.newPage()
      await darkPage.goto(server.pageUrl)
      await darkPage.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
      await darkPage.locator('[data-testid="fleet-count"]', { hasText: "of 100 sessions" }).waitFor()
      const background = await darkPage.evaluate(() => getComputedStyle(document.body).backgroundColor)
      expect(background).toBe("rgb(13, 17, 23)")
      await darkPage.screenshot({ path: path.join(shots, "fleet-dark.png") })
      const id = sdk.sessions().find((s) => s.cwd === "/work/exec-project")!.id
      await darkPage.locator('[data-testid="filter-text"]').fill("exec-project")
      await darkPage.locator(`[data-testid="fleet-row"][data-session-id="${id}"]`).click()
      await darkPage.locator('[data-testid="conversation"] [data-testid="message"]', { hasText: "echo: after the restart" }).waitFor()
      await darkPage.screenshot({ path: path.join(shots, "session-dark.png") })
    } finally {
      await dark.close()
    }
  })
})
