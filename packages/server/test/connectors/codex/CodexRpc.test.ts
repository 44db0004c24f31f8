/**
 * `CodexRpc` framing and correlation, over an in-memory line pair: the server's requests (numbered
 * from 0, like ours from 1) are told from responses by shape, errors and timeouts are typed, and a
 * closed connection fails what is pending and tells the consumer after what already arrived.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Option, Queue, Schema, TestClock } from "effect"
import * as CodexRpc from "../../../src/connectors/codex/CodexRpc.js"

const makeRpc = Effect.gen(function* () {
  const writes = yield* Queue.unbounded<any>()
  const rpc = yield* CodexRpc.make({
    write: (line) => Queue.offer(writes, JSON.parse(line)),
    defaultTimeout: "5 seconds"
  })
  /** The next line we wrote (a request is on the wire once this returns). */
  const written = Queue.take(writes)
  return { rpc, written }
})

describe("CodexRpc", () => {
  it("classifies by shape", () => {
    expect(Option.getOrThrow(CodexRpc.classify({ id: 0, method: "item/fileChange/requestApproval", params: {} })).kind).toBe("request")
    expect(Option.getOrThrow(CodexRpc.classify({ id: 0, result: {} })).kind).toBe("response")
    expect(Option.getOrThrow(CodexRpc.classify({ method: "turn/started", params: {}, emittedAtMs: 1 })).kind).toBe("notification")
    expect(Option.isNone(CodexRpc.classify([1, 2]))).toBe(true)
    expect(Option.isNone(CodexRpc.classify({ jsonrpc: "2.0" }))).toBe(true)
  })

  it.effect("correlates responses, and hands the server's own requests on even when their ids collide", () =>
    Effect.gen(function* () {
      const { rpc, written } = yield* makeRpc
      const pending = yield* rpc.request("thread/start", { cwd: "/w" }, Schema.Struct({ ok: Schema.Boolean })).pipe(Effect.fork)
      expect(yield* written).toEqual({ method: "thread/start", id: 1, params: { cwd: "/w" } })
      // The server's request with id 1 (its own sequence) is not our response.
      yield* rpc.handleLine(JSON.stringify({ id: 1, method: "item/commandExecution/requestApproval", params: { x: 1 } }))
      yield* rpc.handleLine("not json")
      yield* rpc.handleLine(JSON.stringify({ id: 1, result: { ok: true } }))
      expect(yield* Fiber.join(pending)).toEqual({ ok: true })
      const incoming = yield* Queue.take(rpc.incoming)
      expect(incoming).toMatchObject({ kind: "request", frame: { id: 1, method: "item/commandExecution/requestApproval" } })
      yield* rpc.respond(1, { decision: "accept" })
      expect(yield* written).toEqual({ id: 1, result: { decision: "accept" } })
    })
  )

  it.effect("error responses, undecodable results and timeouts fail with the operation", () =>
    Effect.gen(function* () {
      const { rpc, written } = yield* makeRpc
      const failing = yield* rpc.request("thread/start", {}, Schema.Unknown).pipe(Effect.flip, Effect.fork)
      yield* written
      yield* rpc.handleLine(JSON.stringify({ id: 1, error: { code: -32600, message: "Invalid request" } }))
      expect(yield* Fiber.join(failing)).toMatchObject({ operation: "thread/start:remote", code: -32600 })
      const wrong = yield* rpc.request("turn/start", {}, Schema.Struct({ turn: Schema.String })).pipe(Effect.flip, Effect.fork)
      yield* written
      yield* rpc.handleLine(JSON.stringify({ id: 2, result: { turn: 1 } }))
      expect((yield* Fiber.join(wrong)).operation).toBe("turn/start:decode")
      const slow = yield* rpc.request("turn/interrupt", {}, Schema.Unknown).pipe(Effect.flip, Effect.fork)
      yield* TestClock.adjust("6 seconds")
      expect((yield* Fiber.join(slow)).operation).toBe("turn/interrupt:timeout")
    })
  )

  it.effect("closing fails pending requests and queues `closed` after what already arrived", () =>
    Effect.gen(function* () {
      const { rpc, written } = yield* makeRpc
      const pending = yield* rpc.request("turn/start", {}, Schema.Unknown).pipe(Effect.flip, Effect.fork)
      yield* written
      yield* rpc.handleLine(JSON.stringify({ method: "turn/started", params: { threadId: "t" } }))
      yield* rpc.close("codex app-server exited (signal SIGKILL)")
      expect((yield* Fiber.join(pending)).message).toContain("SIGKILL")
      expect((yield* Queue.take(rpc.incoming)).kind).toBe("notification")
      expect(yield* Queue.take(rpc.incoming)).toEqual({ kind: "closed", reason: "codex app-server exited (signal SIGKILL)" })
      expect((yield* rpc.notify("initialized").pipe(Effect.flip)).operation).toBe("initialized:closed")
    })
  )
})
