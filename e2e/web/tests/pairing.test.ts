/**
 * Pairing a phone from the page, for real: the laptop's page (the server's token) shows a QR code,
 * read from the screen by jsQR; a phone (390×844, touch, an iPhone's user agent) that opens its link
 * gets a token of its own, stays paired across a reload, and is cut off the moment the laptop
 * unpairs it, while the laptop's page stays connected.
 */
import * as path from "node:path"
import jsQR from "jsqr"
import type { Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { artifactsDir, launch } from "../helpers/browser.js"
import { type Server, startServer, tempDir } from "../helpers/server.js"

const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

let server: Server
const shots = artifactsDir()

beforeAll(async () => {
  server = await startServer({ dataDir: tempDir("orbitdock-pairing-e2e-") })
})
afterAll(async () => {
  await server?.stop("SIGTERM").catch(() => {})
})

const online = (page: Page) =>
  page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.getAttribute("data-state") === "online")

/** What a camera would read from the QR code on the page: its pixels, decoded by jsQR. */
const scan = async (page: Page): Promise<string> => {
  const size = 330
  const pixels = await page.locator('[data-testid="pair-qr"]').evaluate((img: HTMLImageElement, side: number) => {
    const canvas = document.createElement("canvas")
    canvas.width = canvas.height = side
    const context = canvas.getContext("2d")!
    context.fillStyle = "#fff"
    context.fillRect(0, 0, side, side)
    context.drawImage(img, 0, 0, side, side)
    return Array.from(context.getImageData(0, 0, side, side).data)
  }, size)
  const read = jsQR(Uint8ClampedArray.from(pixels), size, size)
  if (read === null) throw new Error("the QR code on the page does not decode")
  return read.data
}

describe("pairing a phone", () => {
  it("from the page's QR code: the phone gets its own token, stays paired, and is cut off alone when unpaired", async () => {
    const laptop = await launch()
    const phone = await launch({ phone: true, userAgent: IPHONE })
    try {
      const owner = await laptop.newPage()
      owner.on("pageerror", (error) => console.error("page error:", error))
      await owner.goto(server.pageUrl)
      await online(owner)
      await owner.locator('[data-testid="inbox-button"]').click()
      await owner.locator('[data-testid="devices-link"]').click()
      await owner.locator('[data-testid="devices"]').waitFor()
      await owner.locator('[data-testid="pair-start"]').click()
      await owner.locator('[data-testid="pair-qr"]').waitFor()
      const code = await owner.locator('[data-testid="pair-code"]').textContent()
      const link = await scan(owner)
      expect(link).toBe(`${server.url}/#pair=${code}`)
      expect(await owner.locator('[data-testid="pair-unreachable"]').isVisible()).toBe(true)
      await owner.screenshot({ path: path.join(shots, "devices-pair.png") })

      const page = await phone.newPage()
      page.on("pageerror", (error) => console.error("page error:", error))
      await page.goto(link)
      await online(page)
      // The code left the address bar; the device's token is its own, kept for the next visit.
      expect(page.url()).toBe(`${server.url}/`)
      const stored = await page.evaluate(() => window.localStorage.getItem("orbitdock.device-token"))
      expect(stored).toMatch(/^[0-9a-f]{64}$/)
      expect(stored).not.toBe(server.token)
      await owner.locator('[data-testid="pair-done"]', { hasText: "Paired iPhone · Safari" }).waitFor()
      await page.reload()
      await online(page)

      // The phone sees itself in the list.
      await page.goto(`${server.url}/#/devices`)
      await online(page)
      await page.locator('[data-testid="device"]', { hasText: "this device" }).waitFor()
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
      await page.screenshot({ path: path.join(shots, "phone-devices.png") })

      owner.once("dialog", (dialog) => void dialog.accept())
      await owner.locator('[data-testid="device"]', { hasText: "iPhone · Safari" }).locator('[data-testid="device-revoke"]').click()
      await owner.locator('[data-testid="devices-status"]', { hasText: "was unpaired" }).waitFor()
      await page.locator('[data-testid="token-screen"]', { hasText: "This device was unpaired" }).waitFor()
      expect(await page.evaluate(() => window.localStorage.getItem("orbitdock.device-token"))).toBeNull()
      // The laptop is untouched.
      expect(await owner.locator('[data-testid="connection"]').getAttribute("data-state")).toBe("online")
      await owner.locator('[data-testid="device"]').first().waitFor({ state: "detached" })
    } finally {
      await phone.close()
      await laptop.close()
    }
  })

  it("a pairing code typed on the phone works too, and a wrong one is refused with the reason", async () => {
    const phone = await launch({ phone: true, userAgent: IPHONE })
    try {
      const offer = await fetch(`${server.url}/api/devices/pair`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "typed" })
      }).then((answer) => answer.json() as Promise<{ code: string }>)
      const page = await phone.newPage()
      await page.goto(`${server.url}/`)
      const field = page.getByLabel("token or pairing code")
      await field.fill("2222-2222" === offer.code ? "3333-3333" : "2222-2222")
      await field.press("Enter")
      await page.locator('[data-testid="token-screen"]', { hasText: "unknown or expired pairing code" }).waitFor()
      await page.getByLabel("token or pairing code").fill(offer.code.toLowerCase())
      await page.getByLabel("token or pairing code").press("Enter")
      await online(page)
    } finally {
      await phone.close()
    }
  })
})
