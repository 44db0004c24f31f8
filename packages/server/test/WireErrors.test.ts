/**
 * What a client is told when the event log fails: which operation failed, never the driver's
 * text (SQLite's message, a path), which goes to the server log instead.
 */
import type { SessionId } from "@orbitdock/domain"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Sim from "../src/connectors/Sim.js"
import { EventLog, EventLogError } from "../src/eventlog/EventLog.js"
import * as EventLogMemory from "../src/eventlog/EventLogMemory.js"
import * as SessionRegistry from "../src/SessionRegistry.js"
import { Sessions } from "../src/Sessions.js"

const driverText = "SQLITE_IOERR_READ: disk I/O error reading /home/someone/.orbitdock/orbitdock.db"

// Appends commit; reading a session back fails as a broken disk would.
const failingReads = Layer.effect(
  EventLog,
  Effect.map(EventLogMemory.make, (log) => ({
    ...log,
    readSession: () => Effect.fail(new EventLogError({ operation: "EventLog.readSession", cause: new Error(driverText) }))
  }))
)

describe("an event log failure", () => {
  it.scoped("reaches the client as what failed, without the driver's text", () =>
    Effect.gen(function* () {
      const sessions = yield* Sessions
      const { session_id } = yield* sessions.execute({ type: "create_session", provider: "sim", cwd: "/w" })
      const id = session_id as SessionId
      yield* sessions.execute({ type: "send_message", session_id: id, content: "hello" })
      const error = yield* Effect.flip(sessions.stateAt(id, 1))
      expect(error.code).toBe("internal")
      expect(error.message).toBe("at_revision: the event log failed (the server log has the cause)")
      expect(error.message).not.toContain("SQLITE")
    }).pipe(Effect.provide(SessionRegistry.layer([Sim.make]).pipe(Layer.provide(failingReads))))
  )
})
