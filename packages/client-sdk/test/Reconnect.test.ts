/**
 * "Never wrong after trouble", against the real server process: a cut connection resumes with
 * `since_revision`; a SIGKILLed and restarted server (new `server_id`) is resynced from snapshots; a
 * dropped message (forced revision gap) is detected and resynced; offline commands fail clearly or
 * are queued and sent exactly once. Each time the mirror must equal `GET /api/sessions/:id`.
 */
import { afterEach, beforeEach, expect, it } from "vitest"
import { Client, Errors } from "../src/node.js"
import { expectMirrorsServer, serverState, settled } from "./helpers/expectations.js"
import * as Faults from "./helpers/faults.js"
import { startServer, type ServerProcess } from "./helpers/serverProcess.js"

let server: ServerProcess
beforeEach(async () => {
  server = await startServer()
}, 60_000)
afterEach(async () => {
  await server?.cleanup()
}, 60_000)

const fastReconnect = { initialMs: 50, maxMs: 400, factor: 2, jitter: 0.5 }

const noticesOf = (client: Client.Client) => {
  const notices: Array<Client.Events["notice"]> = []
  client.on("notice", (n) => notices.push(n))
  return notices
}

it("resumes with since_revision after a cut connection while events keep flowing", async () => {
  const faults = Faults.make()
  const driver = await Client.connect({ url: server.wsUrl(), token: server.token })
  const client = await Client.connect({ url: server.wsUrl(), token: server.token, transport: faults.transport, reconnect: fastReconnect })
  try {
    const notices = noticesOf(client)
    const id = await driver.createSession({ provider: "sim", cwd: "/tmp/cut" })
    await driver.subscribeSession(id)
    await client.subscribeList()
    await client.subscribeSession(id)
    const snapshots: Array<number> = []
    client.on("messages", (batch) => {
      for (const m of batch) if (m.type === "session_snapshot") snapshots.push(m.revision)
    })
    // A steady stream (one turn after the other, seven events each) rather than a `/burst`: the
    // server folds a burst of thousands before the client has read its first hundreds, and a gap
    // longer than the server keeps in memory is (rightly) answered with a snapshot.
    const turns = 120
    const driving = (async () => {
      for (let i = 0; i < turns; i++) {
        await driver.sendMessage(id, `turn ${i}`)
        await settled(driver, id, `echo: turn ${i}`)
      }
    })()
    // Cut in the middle of the stream, synchronously on the change that shows it.
    const cutAt = await new Promise<Client.Client["mirror"]>((resolve) => {
      const off = client.on("change", (m) => {
        if ((m.sessions.get(id)?.messages.length ?? 0) < 60) return
        off()
        faults.cut()
        resolve(m)
      })
    })
    await client.waitFor((m) => m.connection === "online" && faults.opened() >= 2)
    await driving
    const done = await settled(client, id, `echo: turn ${turns - 1}`, 45_000)
    console.log(`cut at revision ${cutAt.sessions.get(id)!.revision}, converged at ${done.revision}`)
    expect(cutAt.sessions.get(id)!.revision).toBeLessThan(done.revision)
    await expectMirrorsServer(client, server, id)
    expect(notices.filter((n) => n._tag === "ServerRestarted")).toEqual([])
    // Resumed from the revision it had, not from a snapshot.
    expect(snapshots).toEqual([])
    const contents = client.session(id)!.messages.map((m) => m.content)
    expect(contents).toEqual(Array.from({ length: turns }, (_, i) => [`turn ${i}`, `echo: turn ${i}`]).flat())
  } finally {
    await client.close()
    await driver.close()
  }
}, 60_000)

it("drops the mirror and resyncs from snapshots after the server is SIGKILLed and restarted", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token, reconnect: fastReconnect, encoding: "msgpack" })
  try {
    const notices = noticesOf(client)
    const firstServerId = client.mirror.serverId
    await client.subscribeList()
    const quiet = await client.createSession({ provider: "sim", cwd: "/tmp/quiet", prompt: "before the crash" })
    const busy = await client.createSession({ provider: "sim", cwd: "/tmp/busy" })
    await client.subscribeSession(quiet)
    await client.subscribeSession(busy)
    await settled(client, quiet, "echo: before the crash")
    // Long enough that the kill lands mid-burst (the server folds and commits a 5,000-message burst
    // before the client has even read 300 of it).
    await client.sendMessage(busy, "/burst 100000")
    // Kill it mid-burst: some of what the client saw may never have become durable.
    const seen = await new Promise<NonNullable<ReturnType<Client.Client["session"]>>>((resolve) => {
      const off = client.on("change", (m) => {
        const busyState = m.sessions.get(busy)
        if (busyState === undefined || busyState.messages.length < 300) return
        off()
        process.kill(server.listening().pid, "SIGKILL")
        resolve(busyState)
      })
    })
    await server.kill()
    expect(seen.status).toBe("working")
    await client.waitFor((m) => m.connection === "reconnecting")
    await expect(client.sendMessage(quiet, "while down")).rejects.toBeInstanceOf(Errors.OfflineError)
    const restarted = await server.restart()
    expect(restarted.server_id).not.toBe(firstServerId)

    const back = await client.waitFor((m) => m.connection === "online" && m.serverId === restarted.server_id, 20_000)
    expect(back.serverId).toBe(restarted.server_id)
    expect(notices.some((n) => n._tag === "ServerRestarted")).toBe(true)
    // The server closes the turn its crash interrupted; the mirror follows.
    const recovered = await settled(client, busy, "interrupted: server restarted", 20_000)
    console.log(`SIGKILL at revision ${seen.revision} seen by the client; restarted server resumed at ${recovered.revision}`)
    await client.sendMessage(busy, "after the restart")
    await settled(client, busy, "echo: after the restart")
    await client.sendMessage(quiet, "still here")
    await settled(client, quiet, "echo: still here")
    await expectMirrorsServer(client, server, busy)
    await expectMirrorsServer(client, server, quiet)
    // The list was refetched from the new process as well.
    const list = await server.get("/api/sessions")
    await client.waitFor((m) =>
      list.body.every((s: { id: never; status: string }) => m.list?.get(s.id)?.status === s.status)
    )
    expect([...client.mirror.list!.keys()]).toEqual(list.body.map((s: { id: string }) => s.id))
  } finally {
    await client.close()
  }
}, 60_000)

it("detects a forced revision gap and resyncs", async () => {
  const faults = Faults.make()
  const client = await Client.connect({ url: server.wsUrl(), token: server.token, transport: faults.transport })
  try {
    const notices = noticesOf(client)
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/gap" })
    await client.subscribeSession(id)
    const dropped = faults.dropNext((m) => m.type === "message_appended" && m.session_id === id && m.message.content === "burst 40")
    await client.sendMessage(id, "/burst 100")
    const lost = await dropped
    await settled(client, id, "burst 100")
    const gaps = notices.filter((n) => n._tag === "Gap")
    expect(gaps.length).toBeGreaterThanOrEqual(1)
    expect(gaps[0]).toMatchObject({ session_id: id, have: lost.revision - 1, got: lost.revision + 1 })
    await expectMirrorsServer(client, server, id)
    expect(client.session(id)!.messages.filter((m) => m.content === "burst 40")).toHaveLength(1)
  } finally {
    await client.close()
  }
}, 60_000)

it("drops a connection whose server stops answering a resync, and converges once it answers again", async () => {
  const faults = Faults.make()
  const client = await Client.connect({
    url: server.wsUrl(),
    token: server.token,
    transport: faults.transport,
    commandTimeoutMs: 1_000,
    connectTimeoutMs: 1_000,
    reconnect: fastReconnect
  })
  const pid = server.listening().pid
  try {
    const notices = noticesOf(client)
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/hung" })
    await client.subscribeSession(id)
    // A gap whose resubscription the (stopped) server cannot answer.
    const dropped = faults.dropNext(
      (m) => m.type === "message_appended" && m.session_id === id && m.message.content === "burst 30",
      () => process.kill(pid, "SIGSTOP")
    )
    // Its ack may be held up by the stop: the outcome of this command is not what is tested here.
    const sending = client.sendMessage(id, "/burst 100").catch((e: unknown) => e)
    await dropped
    try {
      await client.waitFor((m) => m.connection === "reconnecting")
      expect(notices.some((n) => n._tag === "Unresponsive")).toBe(true)
    } finally {
      process.kill(pid, "SIGCONT")
    }
    await sending
    await settled(client, id, "burst 100")
    await expectMirrorsServer(client, server, id)
    expect(client.mirror.serverId).toBe(server.listening().server_id)
  } finally {
    await client.close()
  }
}, 60_000)

it("drops a connection that went silent with nothing in flight, by its pings, and converges once the server answers again", async () => {
  const client = await Client.connect({
    url: server.wsUrl(),
    token: server.token,
    heartbeatMs: 300,
    connectTimeoutMs: 1_000,
    reconnect: fastReconnect
  })
  const pid = server.listening().pid
  try {
    const notices = noticesOf(client)
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/silent" })
    await client.subscribeSession(id)
    await client.sendMessage(id, "before")
    await settled(client, id, "echo: before")
    // Idle, but answering: pongs keep the connection (five ping periods, not one frame).
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    expect(notices).toEqual([])
    expect(client.mirror.connection).toBe("online")
    // Silent: the process stops, its socket stays open, and no command is waiting for an answer.
    process.kill(pid, "SIGSTOP")
    try {
      await client.waitFor((m) => m.connection !== "online", 5_000)
      const unresponsive = notices.filter((n) => n._tag === "Unresponsive")
      expect(unresponsive).toHaveLength(1)
      expect(unresponsive[0]).toMatchObject({ detail: expect.stringContaining("no pong") })
    } finally {
      process.kill(pid, "SIGCONT")
    }
    await client.waitFor((m) => m.connection === "online", 10_000)
    await client.sendMessage(id, "after")
    await settled(client, id, "echo: after")
    await expectMirrorsServer(client, server, id)
    expect(client.mirror.serverId).toBe(server.listening().server_id)
  } finally {
    await client.close()
  }
}, 60_000)

it("queues an offline command when asked and sends it exactly once after reconnecting", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token, reconnect: fastReconnect })
  try {
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/queue" })
    const other = await client.createSession({ provider: "sim", cwd: "/tmp/queue-other" })
    await client.subscribeSession(id)
    await server.kill()
    await client.waitFor((m) => m.connection === "reconnecting")
    const queued = client.sendMessage(id, "sent once", { queue: true, timeoutMs: 30_000 })
    await expect(client.sendMessage(id, "not queued")).rejects.toBeInstanceOf(Errors.OfflineError)
    // Subscriptions too: refused offline unless queued.
    await expect(client.subscribeSession(other)).rejects.toBeInstanceOf(Errors.OfflineError)
    const subscribed = client.subscribeSession(other, { queue: true, timeoutMs: 30_000 })
    // A queued command whose time runs out is withdrawn, never sent later.
    const expired = await client.sendMessage(other, "expired", { queue: true, timeoutMs: 50 }).catch((e: unknown) => e)
    expect(expired).toBeInstanceOf(Errors.TimeoutError)
    expect((expired as Errors.TimeoutError).sent).toBe(false)
    await server.restart()
    await queued
    expect((await subscribed).id).toBe(other)
    expect((await serverState(server, other)).messages.some((m) => m.content === "expired")).toBe(false)
    await settled(client, id, "echo: sent once")
    const state = await serverState(server, id)
    expect(state.messages.filter((m) => m.content === "sent once")).toHaveLength(1)
    expect(state.messages.some((m) => m.content === "not queued")).toBe(false)
    await expectMirrorsServer(client, server, id)
  } finally {
    await client.close()
  }
}, 60_000)

it("fails a command in flight when the connection drops, and never resends it", async () => {
  const client = await Client.connect({ url: server.wsUrl(), token: server.token, reconnect: fastReconnect })
  try {
    const id = await client.createSession({ provider: "sim", cwd: "/tmp/lost" })
    process.kill(server.listening().pid, "SIGSTOP")
    const inFlight = client.sendMessage(id, "in flight").catch((e: unknown) => e)
    await server.kill()
    expect(await inFlight).toBeInstanceOf(Errors.ConnectionLostError)
    await server.restart()
    await client.waitFor((m) => m.connection === "online")
    await client.subscribeSession(id)
    const state = await serverState(server, id)
    expect(state.messages.filter((m) => m.content === "in flight").length).toBeLessThanOrEqual(1)
    await expectMirrorsServer(client, server, id)
  } finally {
    await client.close()
  }
}, 60_000)
