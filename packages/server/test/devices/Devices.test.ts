/**
 * Paired devices for real: a server on 127.0.0.1, a pairing code offered with the server's token,
 * exchanged without one for a device token that opens HTTP and WebSockets, revoked on its own (its
 * socket closed at once, the other device untouched), kept across a restart as hashes only.
 */
import { Effect, Layer, TestClock, TestContext } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as Config from "../../src/Config.js"
import { ServerConfig } from "../../src/Config.js"
import * as Devices from "../../src/devices/Devices.js"
import * as Pairing from "../../src/devices/Pairing.js"
import * as ListeningUrl from "../../src/http/ListeningUrl.js"
import { startTestServer, type TestServer, UpgradeRefused } from "../helpers/testServer.js"

let server: TestServer | undefined
afterEach(async () => {
  await server?.cleanup()
  server = undefined
})

const post = (s: TestServer, path: string, body: unknown, auth: string | null | undefined = undefined) =>
  s.request(path, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", ...(typeof auth === "string" ? { authorization: `Bearer ${auth}` } : {}) },
    ...(auth === undefined ? {} : { auth: false })
  })

const asDevice = (s: TestServer, token: string, path: string) => s.request(path, { auth: false, headers: { authorization: `Bearer ${token}` } })

/** Offers a code with the server's token and exchanges it as a phone would (no token). */
const pairOne = async (s: TestServer, name: string) => {
  const offer = await post(s, "/api/devices/pair", {})
  expect(offer.status).toBe(201)
  const paired = await post(s, "/api/pair", { code: offer.body.code, name }, null)
  expect(paired.status).toBe(201)
  return { offer: offer.body, token: paired.body.token as string, id: paired.body.device.id as string }
}

describe("pairing a device", () => {
  it("offers a short-lived code with a link and a QR code, exchanged once for a token of the device's own", async () => {
    server = await startTestServer()
    const offer = await post(server, "/api/devices/pair", { name: "Anna's phone" })
    expect(offer.status).toBe(201)
    expect(offer.body.code).toMatch(/^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/)
    expect(offer.body.url).toBe(`http://127.0.0.1:${server.port}/#pair=${offer.body.code}`)
    expect(offer.body.reachable).toBe(false)
    expect(offer.body.qr_svg).toMatch(/^<svg[^>]*>.*<\/svg>\s*$/s)
    const expiresIn = Date.parse(offer.body.expires_at) - Date.now()
    expect(expiresIn).toBeGreaterThan(Pairing.CODE_TTL_MS - 10_000)
    expect(expiresIn).toBeLessThanOrEqual(Pairing.CODE_TTL_MS)

    // Typed by a person: lower case, no dash.
    const typed = offer.body.code.toLowerCase().replace("-", "")
    const paired = await post(server, "/api/pair", { code: typed, name: "ignored: the offer named it" }, null)
    expect(paired.status).toBe(201)
    expect(paired.body.token).toMatch(/^[0-9a-f]{64}$/)
    expect(paired.body.token).not.toBe(server.token)
    expect(paired.body.device).toMatchObject({ name: "Anna's phone", last_seen_at: null })

    const again = await post(server, "/api/pair", { code: offer.body.code }, null)
    expect(again.status).toBe(401)
    expect(again.body).toEqual({ code: "unauthorized", message: "unknown or expired pairing code" })

    // The device's token works for HTTP and the WebSocket.
    expect((await asDevice(server, paired.body.token, "/api/sessions")).status).toBe(200)
    const client = await server.connect({ auth: false, headers: { authorization: `Bearer ${paired.body.token}` } })
    const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/tmp" })
    expect(ack.type).toBe("ack")
    const listed = await asDevice(server, paired.body.token, "/api/devices")
    expect(listed.body.devices).toEqual([expect.objectContaining({ id: paired.body.device.id, current: true })])
    expect(listed.body.devices[0].last_seen_at).not.toBeNull()
  })

  it("refuses malformed codes as invalid, and voids every pending code after a burst of wrong ones", async () => {
    server = await startTestServer()
    for (const code of ["", "ABC", "ABCD-EFGI", "0000-0000", "x".repeat(65)]) {
      const answer = await post(server, "/api/pair", { code }, null)
      expect(answer.status, code).toBe(400)
      expect(answer.body.code, code).toBe("invalid_message")
    }
    expect((await post(server, "/api/pair", { nope: 1 }, null)).status).toBe(400)
    const offer = await post(server, "/api/devices/pair", {})
    const wrong = offer.body.code.startsWith("2222") ? "3333-3333" : "2222-2222"
    for (let i = 0; i < Pairing.MAX_WRONG_CODES; i++) {
      expect((await post(server, "/api/pair", { code: wrong }, null)).status).toBe(401)
    }
    // The right code, too late: the guesses voided it.
    expect((await post(server, "/api/pair", { code: offer.body.code }, null)).status).toBe(401)
    expect((await server.request("/api/devices")).body.devices).toEqual([])
  })

  it("names a public host in the link when one is configured, and takes a given base", async () => {
    server = await startTestServer({ config: { publicHosts: ["box.local"] } })
    const offer = await post(server, "/api/devices/pair", {})
    expect(offer.body.url).toBe(`http://box.local:${server.port}/#pair=${offer.body.code}`)
    expect(offer.body.reachable).toBe(true)
    const given = await post(server, "/api/devices/pair", { base_url: "https://box.tail.ts.net/" })
    expect(given.body.url).toBe(`https://box.tail.ts.net/#pair=${given.body.code}`)
    expect((await post(server, "/api/devices/pair", { base_url: "javascript:alert(1)" })).status).toBe(400)
    // A page loaded from the public host may call back to it.
    const fromPhone = await server.request("/api/sessions", { headers: { host: "box.local", origin: "http://box.local" } })
    expect(fromPhone.status).toBe(200)
    const elsewhere = await server.request("/api/sessions", { headers: { host: "box.local", origin: "http://evil.example" } })
    expect(elsewhere.status).toBe(403)
  })
})

describe("a paired device's rights", () => {
  it("cannot pair others or revoke another device, but may unpair itself", async () => {
    server = await startTestServer()
    const phone = await pairOne(server, "phone")
    const tablet = await pairOne(server, "tablet")
    const offered = await post(server, "/api/devices/pair", {}, phone.token)
    expect(offered.status).toBe(403)
    expect(offered.body.code).toBe("forbidden")
    expect((await post(server, "/api/devices/revoke", { id: tablet.id }, phone.token)).status).toBe(403)
    const self = await post(server, "/api/devices/revoke", { id: phone.id }, phone.token)
    expect(self.status).toBe(200)
    expect(self.body.revoked).toMatchObject({ id: phone.id, name: "phone" })
    expect((await asDevice(server, phone.token, "/api/sessions")).status).toBe(401)
    expect((await asDevice(server, tablet.token, "/api/sessions")).status).toBe(200)
    expect((await post(server, "/api/devices/revoke", { id: phone.id })).status).toBe(404)
  })
})

describe("revoking a device", () => {
  it("closes its open connections at once (4001) and refuses it after, leaving the others connected", async () => {
    server = await startTestServer()
    const phone = await pairOne(server, "lost phone")
    const laptop = await pairOne(server, "laptop")
    const phoneSocket = await server.connect({ auth: false, query: `token=${phone.token}` })
    const laptopSocket = await server.connect({ auth: false, headers: { authorization: `Bearer ${laptop.token}` } })
    await phoneSocket.request({ type: "subscribe_list" })
    await laptopSocket.request({ type: "subscribe_list" })

    const revoked = await post(server, "/api/devices/revoke", { id: phone.id })
    expect(revoked.status).toBe(200)
    expect(await phoneSocket.closed).toEqual({ code: 4001, reason: "this device was unpaired" })
    await expect(server.connect({ auth: false, query: `token=${phone.token}` })).rejects.toBeInstanceOf(UpgradeRefused)

    // The laptop still works, live.
    const created = await laptopSocket.request({ type: "create_session", provider: "sim", cwd: "/tmp" })
    expect(created.type).toBe("ack")
    await laptopSocket.waitFor((m) => m.type === "session_created")
    expect((await server.request("/api/devices")).body.devices.map((d: { name: string }) => d.name)).toEqual(["laptop"])
  })
})

describe("across a restart", () => {
  it("keeps devices (as token hashes, in a 0600 file) and voids pending codes", async () => {
    server = await startTestServer()
    const phone = await pairOne(server, "phone")
    const pendingOffer = await post(server, "/api/devices/pair", {})
    const dataDir = server.dataDir
    await server.close()
    const file = `${dataDir}/devices.json`
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    const text = fs.readFileSync(file, "utf8")
    expect(text).not.toContain(phone.token)
    expect(JSON.parse(text).devices).toEqual([expect.objectContaining({ id: phone.id, name: "phone", token_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })])

    server = await startTestServer({ dataDir })
    expect((await asDevice(server, phone.token, "/api/sessions")).status).toBe(200)
    expect((await post(server, "/api/pair", { code: pendingOffer.body.code }, null)).status).toBe(401)
  })

  it("moves an unreadable devices file aside and starts with no devices", async () => {
    server = await startTestServer()
    const dataDir = server.dataDir
    await server.close()
    fs.writeFileSync(`${dataDir}/devices.json`, "{ not json", { mode: 0o600 })
    server = await startTestServer({ dataDir })
    expect((await server.request("/api/devices")).body.devices).toEqual([])
    expect(fs.readdirSync(dataDir).some((name) => name.startsWith("devices.json.unreadable-"))).toBe(true)
  })
})

describe("a pairing code's life", () => {
  it("given a code offered, when its five minutes pass, then it no longer pairs (and the same code, in time, would have)", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-devices-"))
    const program = Effect.gen(function* () {
      const devices = yield* Devices.make
      const late = yield* devices.offer({})
      const inTime = yield* devices.offer({})
      yield* TestClock.adjust(Pairing.CODE_TTL_MS - 1)
      const paired = yield* devices.pair(inTime.code, "phone")
      yield* TestClock.adjust(1)
      const refused = yield* Effect.flip(devices.pair(late.code, "phone"))
      return { paired, refused }
    })
    const { paired, refused } = await Effect.runPromise(
      program.pipe(
        Effect.scoped,
        Effect.provide(Layer.mergeAll(Layer.succeed(ServerConfig, Config.defaults(dataDir)), ListeningUrl.layer)),
        Effect.provide(TestContext.TestContext)
      )
    )
    expect(paired.device.name).toBe("phone")
    expect(refused).toMatchObject({ code: "unauthorized", message: "unknown or expired pairing code" })
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
})
