/**
 * Startup recovery (DESIGN.md "Startup and recovery"): the turns that were running when the server
 * stopped, and whose agent did not survive, are closed: pending requests expire, a visible system
 * message, status `waiting`. Pure event construction plus the loop over the sessions that need it.
 */
import type { ProtocolError, Provider, SessionId } from "@orbitdock/domain"
import type { SessionProjection } from "@orbitdock/projections"
import { Effect } from "effect"
import type { Connector, ConnectorHost, EventInput } from "./connectors/Connector.js"
import type * as SessionActor from "./SessionActor.js"

/** How long startup waits for a recovered session's closing events to be durable before it goes on. */
export const RECOVERY_COMMIT_WAIT = "5 seconds"

/**
 * Closes the turns that were running when the server stopped and whose agent did not survive
 * (DESIGN.md "Startup and recovery"): pending requests expire, a visible system message, `waiting`.
 */
export const recoverInterruptedTurns = (
  summaries: ReadonlyArray<{ readonly id: SessionId; readonly status: string; readonly provider: Provider }>,
  actorFor: (id: SessionId, create: boolean) => Effect.Effect<SessionActor.SessionActor, ProtocolError>,
  connectors: ReadonlyMap<Provider, Connector>,
  host: ConnectorHost
) =>
  Effect.forEach(
    summaries.filter((s) => s.status === "working" || s.status === "starting"),
    (summary) =>
      Effect.gen(function* () {
        const actor = yield* actorFor(summary.id, false)
        const projection = actor.projection()
        const connector = connectors.get(summary.provider)
        const alive = connector === undefined ? false : yield* connector.survivedRestart(projection.state)
        if (alive) return
        // Shown at once; durable soon, but startup does not wait on a log that cannot commit (a full
        // disk): the events are kept and committed once it can, and the server comes up degraded.
        const receipt = yield* host.emit(summary.id, recoveryEvents(projection, host.newId("msg"), host.now()), { urgent: true })
        yield* receipt.folded
        const durable = yield* receipt.durable.pipe(Effect.timeoutOption(RECOVERY_COMMIT_WAIT))
        if (durable._tag === "None") {
          yield* Effect.logWarning(`the interrupted turn of session ${summary.id} is closed, not yet durable (the event log cannot commit)`)
        } else yield* Effect.logInfo(`closed the interrupted turn of session ${summary.id}`)
      }).pipe(
        Effect.catchAll((e) => Effect.logError(`recovery of session ${summary.id} failed: ${e.message}`))
      ),
    { discard: true }
  )

/** Lets connectors take up watching their sessions that have not ended (`Connector.resumeWatching`). */
export const resumeWatching = (
  summaries: ReadonlyArray<{ readonly id: SessionId; readonly status: string; readonly provider: Provider; readonly attention: boolean }>,
  connectors: ReadonlyMap<Provider, Connector>
) =>
  Effect.forEach(
    summaries.filter((s) => s.status !== "ended"),
    (summary) => connectors.get(summary.provider)?.resumeWatching?.(summary.id, summary.attention) ?? Effect.void,
    { discard: true }
  )

/** The events that close a turn whose agent is gone. */
export const recoveryEvents = (
  p: SessionProjection.SessionProjection,
  messageId: string,
  now: string
): ReadonlyArray<EventInput> => [
  ...p.approvals.map(
    (r): EventInput => ({ event: { type: "approval_resolved", request_id: r.id, outcome: "expired" } })
  ),
  ...p.questions.map(
    (r): EventInput => ({ event: { type: "question_resolved", request_id: r.id, outcome: "expired" } })
  ),
  ...p.state.messages
    .filter((m) => m.streaming === true)
    .map((m): EventInput => ({ event: { type: "message_updated", message_id: m.id, changes: { streaming: false } } })),
  {
    event: {
      type: "message_appended",
      message: { id: messageId as never, role: "system", content: "interrupted: server restarted", created_at: now }
    }
  },
  { event: { type: "turn_aborted", reason: "server restarted" } }
]

