/**
 * Folding into a message list the caller owns, in place: `@orbitdock/projections/in-place`, kept
 * apart from the package's pure API. Copying the list on every append made a fold quadratic (a
 * 5,000-message replay, a burst into a live session); an owner whose intermediate states nobody
 * sees appends and replaces in its own array instead.
 */
import type { SessionMessage, StoredEvent } from "@orbitdock/domain"
import { transient } from "./internal/transientLists.js"
import { evolveWith, type SessionProjection } from "./SessionProjection.js"

/**
 * `SessionProjection.evolve` into `p`'s own message list, which the caller owns: created by it (or
 * copied) and never handed to anyone since. `p` must not be used afterwards; the result replaces it.
 */
export const evolveInPlace = (p: SessionProjection, stored: StoredEvent): readonly [SessionProjection, SessionMessage | null] =>
  evolveWith(p, stored, transient)
