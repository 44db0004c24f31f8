/**
 * Every command round trip against the real server process, over both subprotocols, with the
 * mirror checked against `GET /api/sessions/:id` after a scripted `sim` session.
 */
import { describe, expect, it } from "vitest"
import { Client, Codec, Errors } from "../src/node.js"
import { expectMirrorsServer, serverState, settled } from "./helpers/expectations.js"
import { type ServerProcess, useServerPerFile } from "./helpers/serverProcess.js"

let server!: ServerProcess
useServerPerFile((started) => (server = started))

const refused = async (promise: Promise<unknown>, code: string) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(Errors.ProtocolError)
  expect((error as Errors.ProtocolError).code).toBe(code)
}

describe.each<Codec.Encoding>(["json", "msgpack"])("over %s", (encoding) => {
  it("never changes a list it handed out: later updates make a new one", async () => {
    const client = await Client.connect({ url: server.wsUrl(), token: server.token, encoding })
    try {
      await client.subscribeList()
      const first = await client.createSession({ provider: "sim", cwd: "/tmp/sdk-list-a" })
      const before = await client.waitFor((m) => m.list?.has(first) === true)
      const listBefore = before.list!
      const size = listBefore.size
      const second = await client.createSession({ provider: "sim", cwd: "/tmp/sdk-list-b" })
      await client.endSession(first)
      const after = await client.waitFor((m) => m.list?.has(second) === true && m.list.get(first)?.status === "ended")
      expect(after.list).not.toBe(listBefore)
      expect(listBefore.size).toBe(size)
      expect(listBefore.has(second)).toBe(false)
      expect(listBefore.get(first)!.status).not.toBe("ended")
    } finally {
      await client.close()
    }
  })

  it("round-trips every command and mirrors a scripted sim session exactly", async () => {
    const client = await Client.connect({ url: server.wsUrl(), token: server.token, encoding })
    try {
      await client.subscribeList()
      const id = await client.createSession({ provider: "sim", cwd: "/tmp/sdk" })
      expect(id).toMatch(/.+/)
      await client.waitFor((m) => m.list?.has(id) === true)
      const initial = await client.subscribeSession(id)
      expect(initial).toMatchObject({ id, provider: "sim", status: "waiting", messages: [] })

      const seen: Array<number> = []
      const off = client.onSession(id, (s) => seen.push(s!.revision))
      await client.sendMessage(id, "hello")
      let state = await settled(client, id, "echo: hello")
      off()
      // One notification per change of this session, in revision order.
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.every((revision, i) => i === 0 || revision > seen[i - 1]!)).toBe(true)
      expect(seen.at(-1)).toBe(state.revision)
      expect(state.messages.map((m) => [m.role, m.content])).toEqual([["user", "hello"], ["assistant", "echo: hello"]])

      // A running turn refuses a second message; interrupt ends it.
      await client.sendMessage(id, "/sleep 10000")
      await refused(client.sendMessage(id, "too soon"), "conflict")
      await client.interruptSession(id)
      await settled(client, id, "interrupted")

      // An approval, approved…
      await client.sendMessage(id, "/exec ls -la")
      const approval = await client.waitFor((m) => m.sessions.get(id)?.pending_approval != null)
      const request = approval.sessions.get(id)!.pending_approval!
      expect(request).toMatchObject({ kind: "exec", command: "ls -la" })
      expect(approval.sessions.get(id)!.attention).toBe(true)
      await client.approveTool(id, request.id, true)
      state = await settled(client, id, "echo: done")
      expect(state.messages.at(-2)?.tool).toMatchObject({ name: "shell", output: "ran: ls -la", status: "ok" })
      await refused(client.approveTool(id, request.id, true), "conflict")

      // …and denied.
      await client.sendMessage(id, "/exec rm -rf /")
      const denial = await client.waitFor((m) => m.sessions.get(id)?.pending_approval != null)
      await client.approveTool(id, denial.sessions.get(id)!.pending_approval!.id, false)
      await settled(client, id, "echo: denied")

      // A question.
      await client.sendMessage(id, "/ask favourite colour?")
      const asked = await client.waitFor((m) => m.sessions.get(id)?.pending_question != null)
      expect(asked.sessions.get(id)!.pending_question!.question).toBe("favourite colour?")
      await client.answerQuestion(id, asked.sessions.get(id)!.pending_question!.id, "blue")
      await settled(client, id, "answer: blue")

      // A burst (coalesced frames).
      await client.sendMessage(id, "/burst 300")
      state = await settled(client, id, "burst 300")
      expect(state.messages.filter((m) => m.content.startsWith("burst ")).length).toBe(300)

      await refused(client.approveTool(id, "req_never_issued", true), "not_found")
      await refused(client.sendMessage("ses_does_not_exist", "x"), "not_found")
      await expectMirrorsServer(client, server, id)

      // The list mirror follows too (summaries may lag on quiet fields; status is sent at once).
      await client.endSession(id)
      const ended = await client.waitFor((m) => m.sessions.get(id)?.status === "ended" && m.list?.get(id)?.status === "ended")
      expect(ended.list!.get(id)!.ended_at).toBe(ended.sessions.get(id)!.ended_at)
      await expectMirrorsServer(client, server, id)
      await refused(client.sendMessage(id, "after the end"), "conflict")

      await client.unsubscribeSession(id)
      expect(client.session(id)).toBeUndefined()
      await client.unsubscribeList()
      expect(client.mirror.list).toBeUndefined()
      const raw = await client.send({ type: "subscribe_session", session_id: id })
      expect(raw).toMatchObject({ type: "ack", session_id: id, revision: (await serverState(server, id)).revision })
    } finally {
      await client.close()
    }
  }, 60_000)
})

it("fails a command with no answer with TimeoutError (sent), and after close with ClosedError", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token })
  const id = await client.createSession({ provider: "sim", cwd: "/tmp/sdk" })
  process.kill(server.listening().pid, "SIGSTOP")
  let error: unknown
  try {
    error = await client.interruptSession(id, { timeoutMs: 300 }).catch((e: unknown) => e)
  } finally {
    process.kill(server.listening().pid, "SIGCONT")
  }
  expect(error).toBeInstanceOf(Errors.TimeoutError)
  expect((error as Errors.TimeoutError).sent).toBe(true)
  // The connection itself is fine: the next command succeeds.
  await client.interruptSession(id)
  await client.close()
  expect(client.mirror.connection).toBe("closed")
  await expect(client.sendMessage(id, "x")).rejects.toBeInstanceOf(Errors.ClosedError)
}, 60_000)

it("connects over the Unix socket without a token", async () => {
  const client = await Client.connect({ socketPath: server.socketPath(), encoding: "msgpack" })
  try {
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/unix", prompt: "over unix" })
    await client.subscribeSession(id)
    await settled(client, id, "echo: over unix")
    await expectMirrorsServer(client, server, id)
  } finally {
    await client.close()
  }
}, 60_000)

it("sends the token in the query when asked (the browser way) and refuses a wrong token", async () => {
  const viaQuery = await Client.connect({ url: server.wsUrl(), token: server.token, tokenIn: "query" })
  expect(viaQuery.mirror.connection).toBe("online")
  await viaQuery.close()

  const wrong = Client.connect({ url: server.wsUrl(), token: "0".repeat(64), connectTimeoutMs: 1_000 })
  await expect(wrong).rejects.toBeInstanceOf(Errors.TimeoutError)

  // Without waiting for the connection, the refusal is visible as a notice.
  const observed = await Client.connect({ url: server.wsUrl(), token: "0".repeat(64), waitForConnection: false })
  const refusal = await new Promise<Client.Events["notice"]>((resolve) => {
    const off = observed.on("notice", (n) => {
      if (n._tag === "ConnectFailed") {
        off()
        resolve(n)
      }
    })
  })
  expect(refusal._tag === "ConnectFailed" && refusal.detail).toContain("401")
  await expect(observed.sendMessage("ses_x", "hi")).rejects.toBeInstanceOf(Errors.OfflineError)
  await observed.close()
}, 60_000)
