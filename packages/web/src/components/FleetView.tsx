/**
 * The fleet: every session with provider, title/cwd, status, attention, token usage and last
 * activity, sessions needing the user first, filterable by status, provider and text. The list is
 * virtualized (only the visible rows are in the DOM), so hundreds of sessions stay fast.
 */
import type { SessionSummary } from "@orbitdock/domain"
import { useVirtualizer } from "@tanstack/react-virtual"
import { memo, useEffect, useRef, useState } from "react"
import * as Fleet from "../logic/fleet.js"
import * as Format from "../logic/format.js"
import { useNow } from "./useNow.js"

interface Props {
  readonly sessions: ReadonlyArray<SessionSummary>
  readonly ordered: ReadonlyArray<SessionSummary>
  readonly loaded: boolean
  readonly filter: Fleet.FleetFilter
  readonly onFilter: (filter: Fleet.FleetFilter) => void
  readonly selectedId: string | undefined
  readonly onSelect: (id: string) => void
}


const ROW_HEIGHT = 64

export const FleetView = ({ sessions, ordered, loaded, filter, onFilter, selectedId, onSelect }: Props) => {
  const counts = Fleet.counts(sessions)
  const scroller = useRef<HTMLDivElement>(null)
  const now = useNow(5000)
  const virtualizer = useVirtualizer({
    count: ordered.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    getItemKey: (index) => ordered[index].id
  })
  const selectedIndex = ordered.findIndex((s) => s.id === selectedId)
  // A newly selected session is scrolled into view once. Not again when it moves in the list: busy
  // sessions reorder it many times a second, and each scroll forced a layout (and made the list jump).
  const revealed = useRef<string | undefined>(undefined)
  useEffect(() => {
    if (selectedIndex < 0 || revealed.current === selectedId) return
    revealed.current = selectedId
    virtualizer.scrollToIndex(selectedIndex, { align: "auto" })
  }, [selectedId, selectedIndex, virtualizer])

  return (
    <nav className="fleet" aria-label="Sessions" data-testid="fleet">
      <div className="filters">
        <input
          type="search"
          placeholder="Filter by title, cwd, model…"
          value={filter.text}
          onChange={(e) => onFilter({ ...filter, text: e.target.value })}
          aria-label="Filter sessions"
          data-testid="filter-text"
        />
        <div className="chips" role="group" aria-label="Status">
          {Fleet.STATUSES.map((status) => (
            <button
              type="button"
              key={status}
              className={`chip status-${status}`}
              aria-pressed={filter.statuses.includes(status)}
              data-testid={`filter-status-${status}`}
              onClick={() => onFilter({ ...filter, statuses: Fleet.toggle(filter.statuses, status) })}
            >
              {status} <span className="count">{counts.byStatus[status] ?? 0}</span>
            </button>
          ))}
        </div>
        <div className="chips" role="group" aria-label="Provider">
          {Fleet.PROVIDERS.map((provider) => (
            <button
              type="button"
              key={provider}
              className="chip"
              aria-pressed={filter.providers.includes(provider)}
              data-testid={`filter-provider-${provider}`}
              onClick={() => onFilter({ ...filter, providers: Fleet.toggle(filter.providers, provider) })}
            >
              {provider} <span className="count">{counts.byProvider[provider] ?? 0}</span>
            </button>
          ))}
        </div>
        <div className="fleet-count muted" data-testid="fleet-count">
          {loaded ? `${ordered.length} of ${sessions.length} sessions` : "loading sessions…"}
        </div>
      </div>
      <div className="fleet-scroll" ref={scroller}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((item) => {
            const session = ordered[item.index]
            return (
              <div
                key={item.key}
                style={{ position: "absolute", top: 0, left: 0, right: 0, height: item.size, transform: `translateY(${item.start}px)` }}
              >
                <Row session={session} selected={session.id === selectedId} now={now} onSelect={onSelect} />
              </div>
            )
          })}
        </div>
      </div>
    </nav>
  )
}

const Row = memo(
  ({ session, selected, now, onSelect }: { session: SessionSummary; selected: boolean; now: number; onSelect: (id: string) => void }) => (
    <button
      type="button"
      className={`row${selected ? " selected" : ""}${session.attention ? " attention" : ""}`}
      onClick={() => onSelect(session.id)}
      aria-current={selected ? "true" : undefined}
      data-testid="fleet-row"
      data-session-id={session.id}
      data-status={session.status}
      data-attention={session.attention ? "true" : "false"}
    >
      <span className="row-line">
        <span className={`status-dot status-${session.status}`} title={session.status} aria-hidden="true" />
        <span className="row-title" title={session.cwd}>
          {session.title ?? Format.basename(session.cwd)}
        </span>
        {session.attention && <span className="badge attention-badge">needs you</span>}
        <span className="row-ago muted" title={session.last_activity_at}>
          {Format.ago(session.last_activity_at, now)}
        </span>
      </span>
      <span className="row-line muted small">
        <span className={`provider provider-${session.provider}`}>{session.provider}</span>
        <span className="row-status" data-testid="row-status">
          {session.status}
        </span>
        <span className="row-cwd" title={session.cwd}>
          {session.cwd}
        </span>
        <span className="row-tokens" title={`${session.token_usage.total} tokens, ${session.message_count} messages`}>
          {Format.tokens(session.token_usage.total)} tok
        </span>
      </span>
    </button>
  )
)
