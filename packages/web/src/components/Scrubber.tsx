/**
 * The history scrubber: step or drag through a session's revisions and see its state at each one
 * (`GET /api/sessions/:id?at_revision=N`) with the event that made it (`…/events`). Reads are
 * debounced while dragging and cached per server process (a restart may change history).
 */
import type { SessionState } from "@orbitdock/domain"
import { useEffect, useRef, useState } from "react"
import { getJson } from "../connection.js"
import * as Format from "../logic/format.js"
import * as History from "../logic/history.js"

interface Props {
  readonly token: string
  readonly sessionId: string
  readonly serverId: string | undefined
  /** The live revision (the scrubber's end). */
  readonly latest: number
  /** The state at the chosen revision (null while not loaded). */
  readonly onState: (state: SessionState | null) => void
}

interface Loaded {
  readonly state: SessionState
  readonly event: History.EventEntry | undefined
}

export const Scrubber = ({ token, sessionId, serverId, latest, onState }: Props) => {
  const [revision, setRevision] = useState(() => History.clamp(latest - 1, latest))
  const [loaded, setLoaded] = useState<{ revision: number; value: Loaded } | null>(null)
  const [error, setError] = useState<string | null>(null)
  const cache = useRef(new Map<string, Loaded>())

  useEffect(() => {
    cache.current.clear()
  }, [serverId])
  useEffect(() => () => onState(null), [onState])

  const target = History.clamp(revision, latest)
  useEffect(() => {
    const key = `${serverId}:${target}`
    const cached = cache.current.get(key)
    if (cached !== undefined) {
      setLoaded({ revision: target, value: cached })
      onState(cached.state)
      return
    }
    const abort = new AbortController()
    const timer = setTimeout(() => {
      Promise.all([
        getJson<SessionState>(token, History.stateAtPath(sessionId, target), abort.signal),
        getJson<{ events: ReadonlyArray<History.EventEntry> }>(token, History.eventAtPath(sessionId, target), abort.signal)
      ]).then(
        ([state, page]) => {
          const value = { state, event: page.events.find((e) => e.revision === target) }
          cache.current.set(key, value)
          setError(null)
          setLoaded({ revision: target, value })
          onState(state)
        },
        (e: unknown) => {
          if (!abort.signal.aborted) setError(e instanceof Error ? e.message : String(e))
        }
      )
    }, 120)
    return () => {
      clearTimeout(timer)
      abort.abort()
    }
  }, [token, sessionId, serverId, target, onState])

  const step = (delta: number) => setRevision((r) => History.clamp(r + delta, latest))
  const event = loaded?.revision === target ? loaded.value.event : undefined
  return (
    <div className="panel scrubber" data-testid="scrubber" role="group" aria-label="History">
      <div className="scrubber-controls">
        <button type="button" onClick={() => setRevision(1)} title="First revision" aria-label="First revision">
          «
        </button>
        <button type="button" onClick={() => step(-1)} title="Previous revision" aria-label="Previous revision" data-testid="scrub-prev">
          ◀
        </button>
        <input
          type="range"
          min={1}
          max={Math.max(1, latest)}
          value={target}
          onChange={(e) => setRevision(Number(e.target.value))}
          aria-label="Revision"
          data-testid="scrub-range"
        />
        <button type="button" onClick={() => step(1)} title="Next revision" aria-label="Next revision" data-testid="scrub-next">
          ▶
        </button>
        <button type="button" onClick={() => setRevision(latest)} title="Latest revision" aria-label="Latest revision">
          »
        </button>
        <span className="scrubber-position" data-testid="scrub-position">
          revision {target} of {latest}
        </span>
      </div>
      <div className="scrubber-event small" data-testid="scrub-event">
        {error !== null ? (
          <span className="error">{error}</span>
        ) : loaded?.revision !== target ? (
          <span className="muted">loading…</span>
        ) : event !== undefined ? (
          <>
            <strong>{History.eventLabel(event.type)}</strong> <span className="muted">at {Format.clock(event.occurred_at)}</span>
          </>
        ) : (
          <span className="muted">state at revision {target}</span>
        )}
      </div>
    </div>
  )
}
