/**
 * Web Push for real, short of a browser: a local mock push service (`web-push-testing`, which checks
 * the VAPID signature and decrypts each message as a browser would) subscribed with the server's
 * public key; the server sends an approval's notification there; its Approve button's ticket
 * answers the approval without the token, once; an unsubscribed browser's channel is dropped.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { startTestServer, type TestServer } from "../helpers/testServer.js"
import { pushAgent, startPushService } from "../kit/pushService.js"

let server: TestServer | undefined
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  await server?.cleanup()
  server = undefined
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

const until = async <A>(check: () => Promise<A | undefined>, what: string): Promise<A> => {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const found = await check()
    if (found !== undefined) return found
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe("Web Push", () => {
  it("sends an approval to a browser's subscription; its Approve button answers it once, without the token", async () => {
    const push = await startPushService()
    cleanups.push(push.close)
    server = await startTestServer({ notifier: { retryDelaysMs: [50], pushAgent } })
    const { public_key } = (await server.request("/api/notify/push/key")).body
    // The key pair is made at first start and kept private.
    expect(fs.statSync(path.join(server.dataDir, "push.json")).mode & 0o777).toBe(0o600)
    const subscription = await push.subscribe(public_key)
    const added = await server.request("/api/notify/channels", {
      method: "POST",
      body: JSON.stringify({ kind: "webpush", subscription: { endpoint: subscription.endpoint, keys: subscription.keys }, name: "phone" })
    })
    expect(added.status).toBe(201)
    expect(added.body).not.toHaveProperty("subscription")
    expect(added.body.push_service).toMatch(/^127\.0\.0\.1:\d+$/)

    const client = await server.connect()
    const ack = (await client.request({ type: "create_session", provider: "sim", cwd: "/repo", prompt: "/exec make deploy" })) as { session_id: string }
    const sessionId = ack.session_id
    const [text] = await until(async () => {
      const messages = await push.messages(subscription.clientHash)
      return messages.length > 0 ? messages : undefined
    }, "a push message")
    const message = JSON.parse(text!)
    expect(message).toMatchObject({ title: "/exec make deploy needs your approval", body: "run: make deploy", session_id: sessionId, reason: "approval" })
    expect(message.url).toContain(`session=${sessionId}`)
    const [approve, deny] = message.actions as Array<{ action: string; ticket: string }>
    expect([approve!.action, deny!.action]).toEqual(["approve", "deny"])

    // The button's request carries no token: the ticket is its credential.
    const act = (ticket: string) => server!.request("/api/notify/act", { method: "POST", auth: false, body: JSON.stringify({ ticket }) })
    expect((await server.request("/api/notify/channels", { method: "GET", auth: false })).status).toBe(401)
    const forged = `${approve!.ticket.split(".")[0]}.${"A".repeat(43)}`
    expect((await act(forged)).body).toMatchObject({ code: "unauthorized", message: "not a ticket of this server" })
    expect((await act(approve!.ticket)).body).toMatchObject({ session_id: sessionId, approved: true })
    await until(async () => {
      const state = (await server!.request(`/api/sessions/${sessionId}`)).body
      return state.messages.some((m: { content: string }) => m.content === "echo: done") ? state : undefined
    }, "the approved turn to finish")
    // Once: the same button again, or the other one, is too late.
    expect((await act(approve!.ticket)).body).toMatchObject({ code: "conflict" })
    expect((await act(deny!.ticket)).body).toMatchObject({ code: "conflict" })
  })

  it("drops the channel of a browser that unsubscribed", async () => {
    const push = await startPushService()
    cleanups.push(push.close)
    server = await startTestServer({ notifier: { retryDelaysMs: [50], pushAgent } })
    const { public_key } = (await server.request("/api/notify/push/key")).body
    const subscription = await push.subscribe(public_key)
    const body = JSON.stringify({ kind: "webpush", subscription: { endpoint: subscription.endpoint, keys: subscription.keys } })
    const first = (await server.request("/api/notify/channels", { method: "POST", body })).body
    // The same browser subscribing again replaces its channel.
    const channel = (await server.request("/api/notify/channels", { method: "POST", body })).body
    expect((await server.request("/api/notify")).body.channels.map((c: { id: string }) => c.id)).toEqual([channel.id])
    expect(channel.id).not.toBe(first.id)
    push.expire(subscription.clientHash)
    const client = await server.connect()
    await client.request({ type: "create_session", provider: "sim", cwd: "/repo", prompt: "hello" })
    const failed = await until(async () => {
      const deliveries = (await server!.request("/api/notify/deliveries")).body.deliveries as Array<{ channel_id: string; status: string; detail: string }>
      return deliveries.find((d) => d.channel_id === channel.id && d.status === "failed")
    }, "the failed delivery")
    expect(failed.detail).toContain("push service: 410")
    expect((await server.request("/api/notify")).body.channels).toEqual([])
  })
})
