/**
 * Turning what the log loaded for a session (`EventLog.loadSession`: snapshot + the events after
 * it) into what its actor starts from. Owns only that step, so the registry's hydration stays one
 * line and tests can check it against a full replay.
 */
import type { SessionId } from "@orbitdock/domain"
import { SessionMirror, SessionProjection } from "@orbitdock/projections"
import type { LoadedSession } from "./EventLog.js"
import * as MessagePages from "./internal/messagePages.js"

/** A session as its actor starts: the projection with its recent messages, and how the rest is paged. */
export interface Hydrated {
  /** The snapshot with the events after it folded on: equal to a full replay but for the paged messages. */
  readonly projection: SessionProjection.SessionProjection
  /** Messages in pages, before `projection.state.messages`. */
  readonly paged: number
  /** The revision of the snapshot the pages are as of. */
  readonly pagedRevision: number
  /** Updates after that revision of messages that are not in memory (see `SessionActor`). */
  readonly pagedUpdates: ReadonlyArray<MessagePages.PagedUpdate>
}

export const hydrate = (sessionId: SessionId, loaded: LoadedSession): Hydrated => {
  const base = loaded.snapshot ?? SessionProjection.empty(sessionId)
  let projection: SessionProjection.SessionProjection = {
    ...base,
    state: { ...base.state, messages: base.state.messages.slice() }
  }
  const pagedUpdates: Array<MessagePages.PagedUpdate> = []
  for (const stored of loaded.events) {
    const event = stored.event
    if (loaded.paged > 0 && event.type === "message_updated" && !MessagePages.holds(projection.state.messages, event.message_id)) {
      pagedUpdates.push({ revision: stored.revision, messageId: event.message_id, changes: event.changes })
    }
    projection = SessionProjection.evolveWith(projection, stored, SessionMirror.transient)[0]
  }
  return {
    projection,
    paged: loaded.paged,
    pagedRevision: loaded.snapshot?.state.revision ?? 0,
    pagedUpdates
  }
}
