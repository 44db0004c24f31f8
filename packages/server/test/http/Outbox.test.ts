/**
 * The outbox over a real WebSocket on 127.0.0.1: coalescing (one message alone, then arrays of at
 * most 256 messages and 1 MiB, in order), and a client that stops reading (bounded memory, data dropped but acks kept,
 * resync once it drains, then live again; `whenDrained` waits for it to read).
 */
import type { AddressInfo } from "node:net"
import type { ServerMessage } from "@orbitdock/domain"
import { afterEach, describe, expect, it } from "vitest"
import WebSocket, { WebSocketServer } from "ws"
import * as FrameCodec from "../../src/http/FrameCodec.js"
import { Outbox } from "../../src/http/Outbox.js"

interface Pair {
  readonly server: WebSocket
  readonly client: WebSocket
  readonly frames: Array<unknown>
  readonly messages: Array<any>
  /** Resolves once `predicate` holds for the messages received so far. */
  readonly until: (predicate: () => boolean, timeoutMs?: number) => Promise<void>
}

let cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const cleanup of cleanups) await cleanup()
  cleanups = []
})

const connectPair = async (): Promise<Pair> => {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 })
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()))
  const port = (wss.address() as AddressInfo).port
  const serverSide = new Promise<WebSocket>((resolve) => wss.once("connection", resolve))
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  const server = await serverSide
  await new Promise<void>((resolve) => (client.readyState === WebSocket.OPEN ? resolve() : client.once("open", () => resolve())))
  const frames: Array<unknown> = []
  const messages: Array<any> = []
  const waiters = new Set<() => void>()
  client.on("message", (data: Buffer) => {
    const value = JSON.parse(data.toString("utf8"))
    frames.push(value)
    if (Array.isArray(value)) messages.push(...value)
    else messages.push(value)
    for (const wake of waiters) wake()
  })
  cleanups.push(async () => {
    client.terminate()
    server.terminate()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  })
  const until = (predicate: () => boolean, timeoutMs = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (predicate()) {
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`timed out with ${messages.length} messages`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  return { server, client, frames, messages, until }
}

const delta = (revision: number, padding = ""): ServerMessage => ({
  type: "session_delta",
  session_id: "s" as never,
  revision,
  changes: padding === "" ? { status: "working" } : { title: padding }
})

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("Outbox", () => {
  it("sends what is pushed in one turn together, in arrays of at most 256, in order; a lone message alone", async () => {
    const pair = await connectPair()
    const outbox = new Outbox(pair.server, FrameCodec.json, { limit: 8192, onResync: () => {}, onHopeless: () => {}, onBroken: () => {} })
    outbox.sendAlone({ type: "hello", server_id: "x" as never, version: "0", protocol: 1 })
    for (let i = 1; i <= 1000; i++) outbox.pushData(delta(i))
    await pair.until(() => pair.messages.length === 1001)
    expect(pair.frames[0]).toMatchObject({ type: "hello" })
    expect(pair.messages.slice(1).map((m) => m.revision)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    expect(pair.frames.slice(1).map((f) => (Array.isArray(f) ? f.length : 1))).toEqual([256, 256, 256, 232])
    outbox.pushData(delta(1001))
    await pair.until(() => pair.messages.length === 1002)
    expect(pair.frames[pair.frames.length - 1]).toMatchObject({ type: "session_delta", revision: 1001 })
    expect(outbox.size).toBe(0)
  })

  it("coalesces at most 1 MiB of messages into a frame; a larger message goes alone", async () => {
    const pair = await connectPair()
    const outbox = new Outbox(pair.server, FrameCodec.json, { limit: 8192, onResync: () => {}, onHopeless: () => {}, onBroken: () => {} })
    // 400 KB each: two fit in a frame, three do not. Then one of 3 MB (alone), then small ones.
    for (let i = 1; i <= 5; i++) outbox.pushData(delta(i, "a".repeat(400_000)))
    outbox.pushData(delta(6, "b".repeat(3_000_000)))
    for (let i = 7; i <= 10; i++) outbox.pushData(delta(i))
    await pair.until(() => pair.messages.length === 10)
    expect(pair.messages.map((m) => m.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(pair.frames.map((f) => (Array.isArray(f) ? f.length : 1))).toEqual([2, 2, 1, 1, 4])
    expect(pair.messages[5].changes.title.length).toBe(3_000_000)
  })

  it("keeps memory bounded under a client that stops reading, keeps acks, and resyncs once it drains", async () => {
    const pair = await connectPair()
    const limit = 500
    let resyncs = 0
    const outbox: Outbox = new Outbox(pair.server, FrameCodec.json, {
      limit,
      onResync: () => {
        resyncs++
        outbox.pushData({ type: "sessions_list", sessions: [] })
      },
      onHopeless: () => {
        throw new Error("not hopeless")
      },
      onBroken: (reason) => {
        throw new Error(`not broken: ${reason}`)
      }
    })
    pair.client.pause()
    const padding = "x".repeat(1000)
    let revision = 0
    let maxQueued = 0
    let maxSocketBuffer = 0
    while (!outbox.isStale && revision < 200_000) {
      for (let i = 0; i < 100 && !outbox.isStale; i++) outbox.pushData(delta(++revision, padding))
      maxQueued = Math.max(maxQueued, outbox.size)
      maxSocketBuffer = Math.max(maxSocketBuffer, pair.server.bufferedAmount)
      await tick()
    }
    expect(outbox.isStale).toBe(true)
    expect(maxQueued).toBeLessThanOrEqual(limit)
    // One frame in flight at most: 256 messages of ~1.1 KB.
    expect(maxSocketBuffer).toBeLessThan(256 * 1200)
    expect(outbox.stuckFor(Date.now() + 1)).toBeGreaterThan(0)
    const lastBeforeStale = revision

    // While stale, data is dropped (it will be covered by the resync) but acks are kept.
    for (let i = 0; i < 10_000; i++) outbox.pushData(delta(1_000_000 + i, padding))
    outbox.pushControl({ type: "ack", id: "kept" })
    expect(outbox.size).toBeLessThanOrEqual(limit)
    expect(resyncs).toBe(0)

    pair.client.resume()
    await pair.until(() => pair.messages.some((m) => m.type === "sessions_list"))
    expect(resyncs).toBe(1)
    const types = pair.messages.map((m) => m.type)
    const ackAt = types.indexOf("ack")
    const resyncAt = types.indexOf("sessions_list")
    expect(ackAt).toBeGreaterThan(0)
    expect(resyncAt).toBeGreaterThan(ackAt)
    // What arrived before the overflow is a gapless prefix; nothing pushed while stale arrived.
    const data = pair.messages.filter((m) => m.type === "session_delta").map((m) => m.revision)
    expect(data).toEqual(Array.from({ length: data.length }, (_, i) => i + 1))
    expect(data.length).toBeLessThan(lastBeforeStale)
    for (const frame of pair.frames) if (Array.isArray(frame)) expect(frame.length).toBeLessThanOrEqual(256)

    // Live again after the resync.
    outbox.pushData(delta(2_000_000))
    await pair.until(() => pair.messages.some((m) => m.revision === 2_000_000))
    expect(outbox.isStale).toBe(false)
  })

  it("whenDrained: at once when nothing is held, else once the client has read what the socket held, or on close", async () => {
    const pair = await connectPair()
    const outbox = new Outbox(pair.server, FrameCodec.json, {
      limit: 10_000,
      onResync: () => {},
      onHopeless: () => {},
      onBroken: (reason) => {
        throw new Error(`not broken: ${reason}`)
      }
    })
    let idle = 0
    outbox.whenDrained(0, () => idle++)
    expect(idle).toBe(1)

    // Given a client that stops reading and a few megabytes sent to it,
    pair.client.pause()
    const padding = "x".repeat(100_000)
    for (let i = 1; i <= 100; i++) {
      outbox.pushData(delta(i, padding))
      await tick()
    }
    // (the socket holds a frame the kernel did not take, the rest waits in the outbox)
    expect(pair.server.bufferedAmount).toBeGreaterThan(0)
    expect(outbox.size).toBeGreaterThan(0)
    // when a catch-up waits for the socket to hold at most 1 MiB,
    let drained = 0
    outbox.whenDrained(1 << 20, () => drained++)
    let cancelled = 0
    const cancel = outbox.whenDrained(1 << 20, () => cancelled++)
    cancel()
    await new Promise((resolve) => setTimeout(resolve, 100))
    // then it waits while the client does not read,
    expect(drained).toBe(0)
    // and goes on once it has read (the cancelled wait never does).
    pair.client.resume()
    await pair.until(() => pair.messages.some((m) => m.revision === 100))
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(drained).toBe(1)
    expect(cancelled).toBe(0)

    // A closing outbox lets its waiters go.
    pair.client.pause()
    for (let i = 101; i <= 200; i++) {
      outbox.pushData(delta(i, padding))
      await tick()
    }
    let released = 0
    outbox.whenDrained(0, () => released++)
    expect(released).toBe(0)
    outbox.close()
    expect(released).toBe(1)
  })

  it("gives up on a client whose unread acks alone exceed the limit", async () => {
    const pair = await connectPair()
    const reasons: Array<string> = []
    const outbox = new Outbox(pair.server, FrameCodec.json, { limit: 50, onResync: () => {}, onHopeless: (r) => reasons.push(r), onBroken: () => {} })
    pair.client.pause()
    const padding = "y".repeat(2000)
    let revision = 0
    while (!outbox.isStale && revision < 200_000) {
      for (let i = 0; i < 100 && !outbox.isStale; i++) outbox.pushData(delta(++revision, padding))
      await tick()
    }
    for (let i = 0; i < 60 && reasons.length === 0; i++) outbox.pushControl({ type: "ack", id: `a${i}` })
    expect(reasons).toHaveLength(1)
    expect(outbox.size).toBeLessThanOrEqual(50)
  })

  for (const codec of [FrameCodec.json, FrameCodec.msgpack]) {
    it(`${codec.subprotocol}: a message that cannot be encoded closes the outbox, reported, nothing thrown`, async () => {
      const pair = await connectPair()
      // JSON cannot encode a BigInt, nor MessagePack one this large; nesting this deep overflows either encoder.
      let deep: unknown = null
      for (let i = 0; i < 200_000; i++) deep = [deep]
      for (const changes of [{ title: 2n ** 100n }, { title: deep }]) {
        const broken: Array<string> = []
        const outbox = new Outbox(pair.server, codec, { limit: 100, onResync: () => {}, onHopeless: () => {}, onBroken: (r) => broken.push(r) })
        outbox.pushData(delta(1))
        outbox.pushData({ ...delta(2), changes } as never)
        outbox.pushControl({ type: "ack", id: "after" })
        // The flush runs in a microtask: a throw there would be an uncaught exception (the process's end).
        await tick()
        expect(broken).toHaveLength(1)
        expect(broken[0]).toMatch(/could not encode session_delta/)
        expect(outbox.size).toBe(0)
        outbox.pushControl({ type: "ack", id: "ignored" })
        await tick()
        expect(broken).toHaveLength(1)
        // The same message alone (a connection's first) is reported the same way.
        const alone: Array<string> = []
        new Outbox(pair.server, codec, { limit: 100, onResync: () => {}, onHopeless: () => {}, onBroken: (r) => alone.push(r) })
          .sendAlone({ ...delta(3), changes } as never)
        expect(alone).toEqual([expect.stringMatching(/could not encode session_delta/)])
      }
    })
  }
})
