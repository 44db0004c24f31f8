/**
 * The page on a phone and as an installed app: a 390×844 touch screen (the fleet, a session, the
 * inbox, approving by tapping, nothing wider than the screen), the manifest and service worker that
 * make it installable, no permission prompt on load, and a Web Push that reaches the page's real
 * service worker, which shows it and answers the approval from its button.
 *
 * Chromium here cannot reach a real push service (no network): the server sends to a local mock
 * push service (`web-push-testing`, over HTTPS with a test certificate the server trusts through
 * NODE_EXTRA_CA_CERTS), and the decrypted message is delivered to the service worker through the
 * DevTools protocol, as the browser's push service would deliver it.
 */
import * as path from "node:path"
import type { BrowserContext, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Client } from "../../../packages/client-sdk/dist/node.js"
import { certFile, startPushService } from "../../../packages/server/test/kit/pushService.js"
import { artifactsDir, launch } from "../helpers/browser.js"
import { type Server, sdkClient, startServer, tempDir, waitUntil } from "../helpers/server.js"

let server: Server
let sdk: Client.Client
const shots = artifactsDir()

const api = async (method: "GET" | "POST", pathname: string, body?: unknown): Promise<any> => {
  const answer = await fetch(`${server.url}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  return answer.json()
}

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir("orbitdock-phone-e2e-"), env: { NODE_EXTRA_CA_CERTS: certFile } })
  sdk = await sdkClient(server)
})

afterAll(async () => {
  await sdk?.close().catch(() => {})
  await server?.stop("SIGTERM").catch(() => {})
})

const openPage = async (browser: BrowserContext): Promise<Page> => {
  const page = await browser.newPage()
  page.on("pageerror", (error) => console.error("page error:", error))
  await page.goto(server.pageUrl)
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")
  return page
}

describe("the page on a phone", () => {
  it("shows one pane at a time, fits the screen, and approves from the inbox by tapping", async () => {
    const browser = await launch({ phone: true })
    try {
      const page = await openPage(browser)
      const id = await sdk.createSession({ provider: "sim", cwd: "/work/phone" })
      await page.locator(`[data-testid="fleet-row"][data-session-id="${id}"]`).waitFor()
      // The fleet alone: no detail pane beside it.
      expect(await page.locator(".detail").isVisible()).toBe(false)
      await page.screenshot({ path: path.join(shots, "phone-fleet.png") })
      await sdk.sendMessage(id, "/exec npm test")
      await page.locator('[data-testid="inbox-button"]').tap()
      const item = page.locator(`[data-testid="inbox-item"][data-session-id="${id}"][data-reason="approval"]`)
      await item.waitFor()
      expect(await page.locator(".fleet").isVisible()).toBe(false)
      await page.screenshot({ path: path.join(shots, "phone-inbox.png") })
      // Every control a thumb needs is at least 40 px tall, and nothing is wider than the screen.
      const approveBox = await page.locator('[data-testid="inbox-approve"]').boundingBox()
      expect(approveBox!.height).toBeGreaterThanOrEqual(40)
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await item.locator('[data-testid="inbox-pick"]').tap()
      await page.locator('[data-testid="inbox-approve"]').tap()
      await page.locator(`[data-testid="inbox-item"][data-session-id="${id}"][data-reason="turn_finished"]`).waitFor()
      // Opening the entry shows the session, full width.
      await page.locator(`[data-testid="inbox-item"][data-session-id="${id}"] .inbox-open`).tap()
      await page.locator(`[data-testid="session-view"][data-session-id="${id}"]`).waitFor()
      await page.locator('[data-testid="conversation"] [data-testid="message"]', { hasText: "echo: done" }).first().waitFor()
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await page.screenshot({ path: path.join(shots, "phone-session.png") })
      // No keyboard on a phone: a button leads back to the fleet.
      await page.locator('[data-testid="fleet-button"]').tap()
      await page.locator(`[data-testid="fleet-row"][data-session-id="${id}"]`).waitFor()
    } finally {
      await browser.close()
    }
  })

  it("is installable (manifest, icons, service worker) and asks for notifications only when asked", async () => {
    const browser = await launch()
    try {
      const page = await openPage(browser)
      const manifestHref = await page.locator('link[rel="manifest"]').getAttribute("href")
      const manifest = await (await fetch(`${server.url}${manifestHref}`)).json()
      expect(manifest).toMatchObject({ name: "OrbitDock", start_url: "/", display: "standalone" })
      for (const icon of manifest.icons as Array<{ src: string; type: string }>) {
        const answer = await fetch(`${server.url}${icon.src}`)
        expect([answer.status, answer.headers.get("content-type")]).toEqual([200, icon.type])
      }
      const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope)
      expect(scope).toBe(`${server.url}/`)
      // Loading the page asked nothing: the permission is still undecided, behind a button.
      expect(await page.evaluate(() => Notification.permission)).toBe("default")
      await page.locator('[data-testid="inbox-button"]').click()
      await page.locator('[data-testid="push-enable"]').waitFor()
    } finally {
      await browser.close()
    }
  })

  it("manages notification channels and quiet hours from the page", async () => {
    const browser = await launch()
    try {
      const page = await openPage(browser)
      await page.locator('[data-testid="inbox-button"]').click()
      await page.locator('[data-testid="notify-link"]').click()
      await page.locator('[data-testid="notify-settings"]').waitFor()
      await page.locator('[data-testid="notify-kind"]').selectOption("webhook")
      await page.locator('[data-testid="notify-url"]').fill("https://hooks.example.test/orbitdock")
      await page.locator('[data-testid="notify-name"]').fill("team hook")
      await page.locator('[data-testid="notify-add"]').click()
      await page.locator('[data-testid="notify-channel"]', { hasText: "team hook" }).waitFor()
      const added = (await api("GET", "/api/notify")).channels as Array<{ id: string; name?: string; url?: string }>
      expect(added).toMatchObject([{ name: "team hook", url: "https://hooks.example.test/orbitdock" }])
      await page.getByRole("button", { name: "Set" }).click()
      await page.locator('[data-testid="notify-quiet"]', { hasText: "Quiet from 22:00 to 07:00" }).waitFor()
      expect((await api("GET", "/api/notify")).quiet_hours).toEqual({ from: "22:00", to: "07:00" })
      await page.getByRole("button", { name: "Off" }).click()
      await page.locator('[data-testid="notify-quiet"]', { hasText: "None." }).waitFor()
      await page.locator(`[data-testid="notify-channel"][data-channel-id="${added[0]!.id}"] [data-testid="notify-remove"]`).click()
      await page.locator('[data-testid="notify-status"]', { hasText: "Channel removed." }).waitFor()
      expect((await api("GET", "/api/notify")).channels).toEqual([])
    } finally {
      await browser.close()
    }
  })

  it("a Web Push reaches the service worker, which shows it and approves from its button", async () => {
    const push = await startPushService()
    const browser = await launch()
    try {
      await browser.grantPermissions(["notifications"], { origin: server.url })
      const page = await openPage(browser)
      await page.evaluate(async () => (await navigator.serviceWorker.ready).scope)
      const { public_key } = await api("GET", "/api/notify/push/key")
      const subscription = await push.subscribe(public_key)
      await api("POST", "/api/notify/channels", { kind: "webpush", subscription: { endpoint: subscription.endpoint, keys: subscription.keys } })

      const id = await sdk.createSession({ provider: "sim", cwd: "/work/pushed" })
      await sdk.sendMessage(id, "/exec make release")
      const [text] = await waitUntil(async () => {
        const messages = await push.messages(subscription.clientHash)
        return messages.length > 0 ? messages : undefined
      }, 15_000, "the push message")

      // Delivered to the page's service worker as the browser's push service would.
      const cdp = await browser.newCDPSession(page)
      const registrations: Array<{ registrationId: string; scopeURL: string }> = []
      cdp.on("ServiceWorker.workerRegistrationUpdated", (event: { registrations: typeof registrations }) => registrations.push(...event.registrations))
      await cdp.send("ServiceWorker.enable")
      const registration = await waitUntil(() => registrations.find((r) => r.scopeURL === `${server.url}/`), 10_000, "the registration")
      await cdp.send("ServiceWorker.deliverPushMessage", { origin: server.url, registrationId: registration.registrationId, data: text! })

      const shown = await waitUntil(async () => {
        const notifications = await page.evaluate(async () =>
          (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({
            title: n.title,
            body: n.body,
            data: n.data,
            actions: ((n as unknown as { actions?: Array<{ action: string }> }).actions ?? []).map((a) => a.action)
          }))
        )
        return notifications.find((n) => n.body === "run: make release")
      }, 10_000, "the notification")
      expect(shown.title).toBe("/exec make release needs your approval")
      expect(shown.actions).toEqual(["approve", "deny"])

      // Its Approve button, as the worker handles a click on it.
      const [worker] = browser.serviceWorkers()
      const result = await worker!.evaluate(
        ([data]) => (self as unknown as { orbitdockClick: (d: unknown, a: string) => Promise<string> }).orbitdockClick(data, "approve"),
        [shown.data] as const
      )
      expect(result).toBe("Approve: done")
      await waitUntil(async () => {
        const state = await api("GET", `/api/sessions/${id}`)
        return state.messages.some((m: { content: string }) => m.content === "echo: done") ? state : undefined
      }, 15_000, "the approved turn")
    } finally {
      await browser.close()
      await push.close()
    }
  })
})
