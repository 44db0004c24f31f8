/**
 * Turning what the log loaded for a session (`EventLog.loadSession`: snapshot + the events after
 * it) into what its actor starts from. Owns only that step, so the registry's hydration stays one
 * line and tests can check it against a full replay.
 */
import type { SessionId } from "@orbitdock/domain"
import { SessionProjection } from "@orbitdock/projections"
import type { LoadedSession } from "./eventlog/EventLog.js"
import * as MessagePages from "./eventlog/messagePages.js"

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
  const pagedUpdates: Array<MessagePages.PagedUpdate> = []
  const projection = MessagePages.foldRecent(
    loaded.snapshot ?? SessionProjection.empty(sessionId),
    loaded.events,
    loaded.paged > 0 ? (update) => pagedUpdates.push(update) : undefined
  )
  return {
    projection,
    paged: loaded.paged,
    pagedRevision: loaded.snapshot?.state.revision ?? 0,
    pagedUpdates
  }
}
