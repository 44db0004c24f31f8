/**
 * Notifications for real: a server in this process, sim sessions, and real receivers — a local HTTP
 * server standing in for the webhook, ntfy and Slack endpoints, and a `notify-send` on PATH that
 * writes down what it was asked to show.
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { startTestServer, type TestClient, type TestServer } from "../helpers/testServer.js"

interface Received {
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/** A local HTTP receiver; `failures` answers 500 that many times first. */
const startReceiver = async (failures = 0) => {
  const received: Array<Received> = []
  const waiters: Array<() => void> = []
  let failLeft = failures
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      received.push({ path: req.url ?? "/", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") })
      for (const w of waiters.splice(0)) w()
      if (failLeft > 0) {
        failLeft--
        res.writeHead(500).end("not now")
      } else res.writeHead(200).end("ok")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const until = async (count: number, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`received ${received.length} requests, expected ${count}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 100)
      })
    }
    return received
  }
  return {
    url,
    received,
    until,
    failNext: (n: number) => {
      failLeft = n
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

let server: TestServer | undefined
const cleanups: Array<() => Promise<void> | void> = []
afterEach(async () => {
  await server?.cleanup()
  server = undefined
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

const fast = { notifier: { retryDelaysMs: [50, 50, 50] } }

const addChannel = async (s: TestServer, channel: object): Promise<string> => {
  const answer = await s.request("/api/notify/channels", { method: "POST", body: JSON.stringify(channel) })
  expect(answer.status).toBe(201)
  expect(answer.body).not.toHaveProperty("secret")
  return answer.body.id
}

const create = async (client: TestClient, prompt: string): Promise<string> => {
  const ack = await client.request({ type: "create_session", provider: "sim", cwd: "/repo", prompt })
  return (ack as { session_id: string }).session_id
}

const deliveries = async (s: TestServer) =>
  (await s.request("/api/notify/deliveries")).body.deliveries as Array<{ notification_id: string; channel_id: string; status: string; attempts: number; detail: string }>

const waitForDelivery = async (s: TestServer, test: (d: Awaited<ReturnType<typeof deliveries>>[number]) => boolean) => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const found = (await deliveries(s)).find(test)
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error("no such delivery recorded")
}

describe("webhooks", () => {
  it("POST the attention as signed JSON, retried after a 500, recorded once sent", async () => {
    const receiver = await startReceiver(1)
    cleanups.push(receiver.close)
    server = await startTestServer(fast)
    const channel = await addChannel(server, { kind: "webhook", url: `${receiver.url}/hook`, secret: "s3cret" })
    const client = await server.connect()
    const sessionId = await create(client, "/exec rm -rf build")

    const [first, second] = await receiver.until(2)
    expect(first!.body).toBe(second!.body)
    const body = JSON.parse(second!.body)
    expect(body).toMatchObject({ event: "attention", session_id: sessionId, reason: "approval", summary: "run: rm -rf build [destructive]", provider: "sim" })
    // A link to the session on the page, at the address the server listens on.
    expect(body.url).toBe(`http://127.0.0.1:${server.port}/?session=${sessionId}`)
    expect(typeof body.since).toBe("string")
    const expected = `sha256=${crypto.createHmac("sha256", "s3cret").update(second!.body).digest("hex")}`
    expect(second!.headers["x-orbitdock-signature"]).toBe(expected)

    const sent = await waitForDelivery(server, (d) => d.channel_id === channel && d.status === "sent")
    expect(sent).toMatchObject({ attempts: 2, detail: "HTTP 200" })
    const settings = (await server.request("/api/notify")).body
    expect(settings.channels).toMatchObject([{ id: channel, kind: "webhook", has_secret: true }])
  })

  it("nothing is sent twice after a restart that finds it delivered; what was not delivered goes out after one", async () => {
    const receiver = await startReceiver()
    cleanups.push(receiver.close)
    // A failed attempt waits a minute: the server is stopped before it tries again.
    server = await startTestServer({ notifier: { retryDelaysMs: [60_000] } })
    const dataDir = server.dataDir
    await addChannel(server, { kind: "webhook", url: receiver.url })
    const client = await server.connect()
    const a = await create(client, "hello")
    await receiver.until(1)
    await waitForDelivery(server, (d) => d.status === "sent")
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ session_id: a, reason: "turn_finished" })

    // The receiver fails from now on: b's notification is left retrying when the server stops.
    receiver.failNext(1_000)
    const b = await create(client, "hello too")
    await receiver.until(2)
    await waitForDelivery(server, (d) => d.notification_id.startsWith(b) && d.status === "retrying")
    await server.close()
    server = undefined
    const before = receiver.received.length

    receiver.failNext(0)
    server = await startTestServer({ ...fast, dataDir })
    // b's went out after the restart (the same notification); a's (delivered) did not go out again.
    const resent = await waitForDelivery(server, (d) => d.notification_id.startsWith(b) && d.status === "sent")
    expect(resent.notification_id).toContain(":turn_finished:")
    const after = receiver.received.slice(before).map((r) => JSON.parse(r.body).session_id)
    expect(after).toContain(b)
    expect(after).not.toContain(a)
  })

  it("skips a session the person is looking at; once it is not, the next attention goes out", async () => {
    const receiver = await startReceiver()
    cleanups.push(receiver.close)
    server = await startTestServer({ ...fast, config: { stallAfterMs: 0 } })
    const channel = await addChannel(server, { kind: "webhook", url: receiver.url, reasons: ["turn_finished", "question"] })
    const client = await server.connect()
    const a = await create(client, "/sleep 300")
    expect(await client.request({ type: "set_viewing", session_ids: [a] })).toMatchObject({ type: "ack" })
    const skipped = await waitForDelivery(server, (d) => d.notification_id.startsWith(a) && d.channel_id === channel)
    expect(skipped).toMatchObject({ status: "skipped", detail: "the session is open on a client" })
    expect(receiver.received).toHaveLength(0)

    // Not viewing any more: the next attention goes out.
    await client.request({ type: "set_viewing", session_ids: [] })
    await client.request({ type: "send_message", session_id: a, content: "/ask Which port?" })
    const [sent] = await receiver.until(1)
    expect(JSON.parse(sent!.body)).toMatchObject({ session_id: a, reason: "question", summary: "Which port?" })
  })
})

describe("presets and the desktop", () => {
  it("ntfy gets the summary as text with a title, a priority and a link; Slack gets a text message", async () => {
    const receiver = await startReceiver()
    cleanups.push(receiver.close)
    server = await startTestServer(fast)
    await addChannel(server, { kind: "ntfy", url: `${receiver.url}/orbitdock`, secret: "tk_123" })
    await addChannel(server, { kind: "slack", url: `${receiver.url}/slack` })
    const client = await server.connect()
    await create(client, "/exec make")
    await receiver.until(2)
    const ntfy = receiver.received.find((r) => r.path === "/orbitdock")!
    expect(ntfy.body).toBe("run: make")
    // The session's title is its first prompt.
    expect(ntfy.headers).toMatchObject({ title: "/exec make needs your approval", priority: "high", authorization: "Bearer tk_123" })
    expect(ntfy.headers.click).toContain("session=")
    const slack = receiver.received.find((r) => r.path === "/slack")!
    expect(JSON.parse(slack.body).text).toMatch(/^\*\/exec make needs your approval\*\nrun: make\n<http:\/\/.*\|Open in OrbitDock>$/)
  })

  it("shows a desktop notification through notify-send", async () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-notify-send-"))
    const out = path.join(bin, "shown.txt")
    fs.writeFileSync(path.join(bin, "notify-send"), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${out}'\n`, { mode: 0o755 })
    const savedPath = process.env.PATH
    process.env.PATH = `${bin}${path.delimiter}${savedPath}`
    cleanups.push(() => {
      process.env.PATH = savedPath
      fs.rmSync(bin, { recursive: true, force: true })
    })
    server = await startTestServer(fast)
    const channel = await addChannel(server, { kind: "desktop" })
    const client = await server.connect()
    await create(client, "/ask Deploy now?")
    await waitForDelivery(server, (d) => d.channel_id === channel && d.status === "sent")
    expect(fs.readFileSync(out, "utf8").split("\n")).toEqual(["--app-name=OrbitDock", "--urgency=critical", "/ask Deploy now? has a question", "Deploy now?", ""])
  })

  it("refuses a channel it could not use, and says why", async () => {
    server = await startTestServer(fast)
    const refused = async (body: object) => (await server!.request("/api/notify/channels", { method: "POST", body: JSON.stringify(body) })).body
    expect(await refused({ kind: "webhook" })).toMatchObject({ code: "invalid_message", message: "a webhook channel needs a url" })
    expect(await refused({ kind: "webhook", url: "file:///etc/passwd" })).toMatchObject({ code: "invalid_message" })
    expect(await refused({ kind: "pager", url: "http://x" })).toMatchObject({ code: "invalid_message" })
    expect((await server.request("/api/notify/channels/remove", { method: "POST", body: '{"id":"ch_nope"}' })).status).toBe(404)
    const file = path.join(server.dataDir, "notify.json")
    expect(fs.existsSync(file)).toBe(false)
    await addChannel(server, { kind: "desktop", name: "laptop" })
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
  })
})
