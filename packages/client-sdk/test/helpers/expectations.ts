/** Assertions shared by the SDK's end-to-end tests. */
import { SessionState } from "@orbitdock/domain"
import { Schema } from "effect"
import { expect } from "vitest"
import type { Client } from "../../src/node.js"
import type { ServerProcess } from "./serverProcess.js"

const decodeState = Schema.decodeUnknownSync(SessionState)

/** The server's state of a session, as `GET /api/sessions/:id` returns it (decoded like the SDK does). */
export const serverState = async (server: ServerProcess, sessionId: string): Promise<SessionState> => {
  const answer = await server.get(`/api/sessions/${sessionId}`)
  expect(answer.status).toBe(200)
  return decodeState(answer.body)
}

/** The client's mirror of the session equals the server's state, with no duplicated message. */
export const expectMirrorsServer = async (client: Client.Client, server: ServerProcess, sessionId: string) => {
  const mirrored = client.session(sessionId)
  expect(mirrored).toBeDefined()
  const ids = mirrored!.messages.map((m) => m.id)
  expect(new Set(ids).size).toBe(ids.length)
  expect(mirrored).toEqual(await serverState(server, sessionId))
}

/** Waits until the session is idle (`waiting`) with `content` as its last message. */
export const settled = (client: Client.Client, sessionId: string, content: string, timeoutMs = 15_000) =>
  client
    .waitFor((m) => {
      const s = m.sessions.get(sessionId as never)
      return s !== undefined && s.status === "waiting" && s.messages.at(-1)?.content === content
    }, timeoutMs)
    .then((m) => m.sessions.get(sessionId as never)!)
