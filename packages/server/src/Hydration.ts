/**
 * Turning what the log loaded for a session (`EventLog.loadSession`: snapshot + the events after
 * it) into the projection its actor starts from. Owns only that step, so the registry's hydration
 * stays one line and tests can check it against a full replay.
 */
import type { SessionId } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import type { LoadedSession } from "./EventLog.js"
import * as SerializedStates from "./internal/serializedStates.js"

/**
 * The session's projection: the snapshot with the events after it folded on (equal to replaying
 * every event). A snapshot with nothing after it is used as it is, and its state's JSON, read with
 * it, is kept for the answer that usually comes next. That relies on SessionActor never changing the
 * initial state in place (it starts `shared` and copies the message list before its first change):
 * a state object with JSON at hand must keep the value that JSON encodes.
 */
export const projectionOf = (sessionId: SessionId, loaded: LoadedSession): SessionProjection.SessionProjection => {
  if (loaded.snapshot !== null && loaded.events.length === 0) {
    if (loaded.stateJson) SerializedStates.remember(loaded.snapshot.state, loaded.stateJson)
    return loaded.snapshot
  }
  return SessionProjection.fold(loaded.snapshot ?? SessionProjection.empty(sessionId), loaded.events)
}
