/**
 * The Effect face against the real server process: typed failures, the message `Stream`, the mirror
 * `SubscriptionRef`, and the client as a scoped `Layer`.
 */
import { Chunk, Deferred, Effect, Either, Fiber, Stream, SubscriptionRef } from "effect"
import { expect, it } from "vitest"
import { Errors, OrbitClient } from "../src/node.js"
import { type ServerProcess, useServerPerFile } from "./helpers/serverProcess.js"

let server!: ServerProcess
useServerPerFile((started) => (server = started))

it("runs a session through the Effect API", async () => {
  const program = Effect.scoped(Effect.gen(function* () {
    const client = yield* OrbitClient.OrbitClient
    const id = yield* client.createSession({ provider: "sim", cwd: "/tmp/effect" })
    yield* client.subscribeSession(id)

    // Server messages as a Stream: collect this session's messages until the turn ends.
    const subscribed = yield* client.subscribeMessages
    const turn = yield* subscribed.pipe(
      Stream.filter((m) => "session_id" in m && m.session_id === id),
      Stream.takeUntil((m) => m.type === "session_delta" && m.changes.status === "waiting"),
      Stream.runCollect,
      Effect.fork
    )
    // Mirror changes as a Stream, from the SubscriptionRef (its first element is the current value).
    const watching = yield* Deferred.make<void>()
    const statuses = yield* client.sessionChanges(id).pipe(
      Stream.tap(() => Deferred.succeed(watching, undefined)),
      Stream.map((state) => state?.status),
      Stream.changes,
      Stream.drop(1), // the current status
      Stream.takeUntil((s) => s === "waiting"),
      Stream.runCollect,
      Effect.fork
    )
    yield* Deferred.await(watching)
    yield* client.sendMessage(id, "effect")
    const messages = Chunk.toArray(yield* Fiber.join(turn))
    expect(messages.map((m) => m.type)).toEqual([
      "session_delta",
      "message_appended",
      "message_appended",
      "message_updated",
      "message_updated",
      "message_updated",
      "tokens_updated",
      "session_delta"
    ])
    expect(Chunk.toArray(yield* Fiber.join(statuses))).toEqual(["working", "waiting"])
    const mirror = yield* SubscriptionRef.get(client.mirror)
    expect(mirror.sessions.get(id)?.messages.at(-1)?.content).toBe("echo: effect")

    // Failures are typed: the server's code, or a local error.
    const refused = yield* Effect.either(client.sendMessage("ses_missing", "x"))
    expect(Either.isLeft(refused) && refused.left._tag).toBe("ProtocolError")
    expect(Either.isLeft(refused) && refused.left instanceof Errors.ProtocolError && refused.left.code).toBe("not_found")
    const handled = yield* client.endSession("ses_missing").pipe(
      Effect.as("ended"),
      Effect.catchTag("ProtocolError", (e) => Effect.succeed(e.code)),
      Effect.catchTags({ TimeoutError: () => Effect.succeed("timeout"), OfflineError: () => Effect.succeed("offline") }),
      Effect.catchAll(() => Effect.succeed("other"))
    )
    expect(handled).toBe("not_found")
    return id
  }))
  const id = await Effect.runPromise(
    program.pipe(Effect.provide(OrbitClient.layer({ url: server.wsUrl(), token: server.token, encoding: "msgpack" })))
  )
  expect((await server.get(`/api/sessions/${id}`)).body.messages.at(-1).content).toBe("echo: effect")
}, 60_000)

it("fails to build the layer with a typed error when no server answers", async () => {
  const exit = await Effect.runPromise(
    Effect.either(
      Effect.scoped(OrbitClient.make({ url: "ws://127.0.0.1:9/ws", connectTimeoutMs: 500, reconnect: { initialMs: 50 } }))
    )
  )
  expect(Either.isLeft(exit) && exit.left._tag).toBe("TimeoutError")
}, 60_000)
