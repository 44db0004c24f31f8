/**
 * Closing a client whatever state its socket is in never throws into the host process: not while
 * the socket is still connecting (the `ws` package then emits "WebSocket was closed before the
 * connection was established" on a later tick), not when the connect timeout gives up on a server
 * that accepted TCP but never answers the upgrade, not right after the socket opened.
 */
import * as net from "node:net"
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { Client } from "../src/node.js"
import { type ServerProcess, useServerPerFile } from "./helpers/serverProcess.js"

let server: ServerProcess
useServerPerFile((s) => (server = s))

/** Errors that reached the process instead of the client. */
let escaped: Array<unknown> = []
const onEscaped = (error: unknown) => void escaped.push(error)
beforeEach(() => {
  escaped = []
  process.on("uncaughtException", onEscaped)
  process.on("unhandledRejection", onEscaped)
})
afterEach(() => {
  process.off("uncaughtException", onEscaped)
  process.off("unhandledRejection", onEscaped)
})

/** Lets the ticks and I/O callbacks that a close schedules run (ws emits its error on `nextTick`). */
const drain = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** A TCP server that accepts every connection and never says a word (no upgrade answer). */
let silent: net.Server
let silentUrl: string
const held = new Set<net.Socket>()
beforeAll(async () => {
  silent = net.createServer((socket) => {
    held.add(socket)
    socket.on("error", () => {})
    socket.on("close", () => held.delete(socket))
  })
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve))
  silentUrl = `ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}/ws`
})
afterAll(async () => {
  for (const socket of held) socket.destroy()
  await new Promise<void>((resolve) => silent.close(() => resolve()))
})

const ROUNDS = 50

describe("closing while connecting", () => {
  it("against a real server: close right after connect, many times, over TCP and the Unix socket", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const tcp = await Client.connect({ url: server.wsUrl(), token: server.token, waitForConnection: false, reconnect: false })
      await tcp.close()
      const unix = await Client.connect({ socketPath: server.socketPath(), waitForConnection: false, reconnect: false })
      await unix.close()
      // Closed after the TCP connection is up but (likely) before the upgrade's answer.
      const late = await Client.connect({ url: server.wsUrl(), token: server.token, waitForConnection: false, reconnect: false })
      await new Promise<void>((resolve) => setImmediate(resolve))
      await late.close()
    }
    await drain()
    expect(escaped).toEqual([])
    // The server is still fine and a normal client still connects.
    const client = await Client.connect({ url: server.wsUrl(), token: server.token })
    expect(client.mirror.connection).toBe("online")
    await client.close()
    await drain()
    expect(escaped).toEqual([])
  }, 60_000)

  it("against a server that never answers the upgrade: close while waiting, and the connect timeout", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const client = await Client.connect({ url: silentUrl, waitForConnection: false, reconnect: false })
      await client.close()
    }
    // The connect timeout gives up on the socket itself (and the reconnect loop tries again).
    const retrying = await Client.connect({
      url: silentUrl,
      waitForConnection: false,
      connectTimeoutMs: 20,
      reconnect: { initialMs: 1, maxMs: 5, factor: 1, jitter: 0 }
    })
    let failures = 0
    await new Promise<void>((resolve) =>
      retrying.on("notice", (n) => {
        if (n._tag === "ConnectFailed" && ++failures === ROUNDS) resolve()
      })
    )
    await retrying.close()
    expect(failures).toBeGreaterThanOrEqual(ROUNDS)
    // Waiting for the connection and timing out rejects the connect, and nothing else.
    await expect(Client.connect({ url: silentUrl, connectTimeoutMs: 20, reconnect: false })).rejects.toBeDefined()
    await drain()
    expect(escaped).toEqual([])
  }, 60_000)

  it("closes once online, many times", async () => {
    for (let i = 0; i < ROUNDS; i++) {
      const client = await Client.connect({ url: server.wsUrl(), token: server.token, waitForConnection: false, reconnect: false })
      await client.waitFor((m) => m.connection === "online", 10_000)
      await client.close()
    }
    await drain()
    expect(escaped).toEqual([])
  }, 60_000)
})
