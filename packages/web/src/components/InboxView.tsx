/**
 * The inbox: every session that needs the person, longest waiting first, with why and what it asks.
 * Approvals can be picked and approved or denied together (each resolved once, by the server);
 * any entry can be opened, marked seen or snoozed, for every device at once.
 */
import type { InboxItem, RequestResult } from "@orbitdock/domain"
import { useEffect, useMemo, useState } from "react"
import { describeError, type OrbitClient } from "../connection.js"
import * as Format from "../logic/format.js"
import { useNow } from "./useNow.js"
import * as Push from "../logic/push.js"

interface Props {
  readonly client: OrbitClient
  readonly token: string
  readonly items: ReadonlyArray<InboxItem>
  readonly loaded: boolean
  readonly onOpen: (sessionId: string) => void
}

const REASONS: Record<InboxItem["reason"], string> = {
  approval: "approval",
  question: "question",
  turn_finished: "turn finished",
  error: "error",
  stalled: "stalled"
}


const key = (item: InboxItem) => `${item.session_id}\u0000${item.request_id ?? ""}`

export const InboxView = ({ client, token, items, loaded, onOpen }: Props) => {
  const [push, setPush] = useState<Push.PushState>(() => Push.pushState())
  const now = useNow(5000)
  const [picked, setPicked] = useState<ReadonlySet<string>>(new Set())
  const [status, setStatus] = useState<string | null>(null)
  const approvals = useMemo(() => items.filter((item) => item.reason === "approval" && item.request_id !== undefined), [items])
  // Only what is still in the inbox stays picked.
  const chosen = approvals.filter((item) => picked.has(key(item)))

  const toggle = (item: InboxItem) =>
    setPicked((current) => {
      const next = new Set(current)
      if (next.has(key(item))) next.delete(key(item))
      else next.add(key(item))
      return next
    })

  const decide = async (approved: boolean) => {
    const requests = chosen.map((item) => ({ session_id: item.session_id, request_id: item.request_id! }))
    setStatus(`${approved ? "approving" : "denying"} ${requests.length}…`)
    try {
      const results: ReadonlyArray<RequestResult> = await client.approveRequests(requests, approved)
      const failed = results.filter((r) => !r.ok)
      setStatus(
        failed.length === 0
          ? `${approved ? "approved" : "denied"} ${results.length}`
          : `${results.length - failed.length} done; ${failed.length} not: ${failed.map((r) => r.message).join("; ")}`
      )
      setPicked(new Set())
    } catch (error) {
      setStatus(describeError(error))
    }
  }

  const mark = (item: InboxItem, change: { seen?: boolean; snoozed_until?: string }) =>
    client.markAttention(item.session_id, { since: item.since, ...change }).catch((error) => setStatus(describeError(error)))

  return (
    <section className="inbox" data-testid="inbox" aria-label="Inbox">
      <div className="inbox-head">
        <h2>Inbox</h2>
        <span className="muted">{loaded ? `${items.length} waiting` : "loading…"}</span>
        <span className="spacer" />
        {(push === "default" || push === "granted") && (
          <button
            type="button"
            data-testid="push-enable"
            title="Get a notification on this device when a session needs you"
            onClick={() =>
              void Push.enablePush(token)
                .then(setStatus, (error: unknown) => setStatus(`Notifications could not be set up: ${describeError(error)}`))
                .finally(() => setPush(Push.pushState()))
            }
          >
            {push === "granted" ? "Notify this device again" : "Notify this device"}
          </button>
        )}
        <a className="button-link" href="#/notify" data-testid="notify-link">
          Notifications…
        </a>
        <a className="button-link" href="#/devices" data-testid="devices-link">
          Devices…
        </a>
        <a className="button-link" href="#/rules" data-testid="rules-link">
          Rules…
        </a>
        <button type="button" data-testid="inbox-approve" disabled={chosen.length === 0} onClick={() => void decide(true)}>
          Approve {chosen.length > 0 ? chosen.length : ""}
        </button>
        <button type="button" data-testid="inbox-deny" className="danger" disabled={chosen.length === 0} onClick={() => void decide(false)}>
          Deny {chosen.length > 0 ? chosen.length : ""}
        </button>
      </div>
      {status !== null && (
        <p className="muted" role="status" data-testid="inbox-status">
          {status}
        </p>
      )}
      {loaded && items.length === 0 && <p className="muted">Nothing needs you.</p>}
      <ul className="inbox-items">
        {items.map((item) => (
          <li key={key(item)} className={`inbox-item${item.seen ? " seen" : ""}`} data-testid="inbox-item" data-session-id={item.session_id} data-reason={item.reason}>
            {item.reason === "approval" && item.request_id !== undefined ? (
              <input
                type="checkbox"
                aria-label={`Pick ${item.summary}`}
                data-testid="inbox-pick"
                checked={picked.has(key(item))}
                onChange={() => toggle(item)}
              />
            ) : (
              <span className="inbox-pick-space" />
            )}
            <button type="button" className="inbox-open" onClick={() => onOpen(item.session_id)}>
              <span className={`badge reason-${item.reason}`}>{REASONS[item.reason]}</span>{" "}
              <span className="inbox-title">{item.title ?? Format.basename(item.cwd)}</span>
              <span className="inbox-summary">{item.summary}</span>
            </button>
            <span className="muted inbox-waited" title={item.since}>
              {Format.ago(item.since, now)}
            </span>
            {!item.seen && (
              <button type="button" className="small" data-testid="inbox-seen" onClick={() => void mark(item, { seen: true })}>
                Seen
              </button>
            )}
            <button
              type="button"
              className="small"
              data-testid="inbox-snooze"
              onClick={() => void mark(item, { snoozed_until: new Date(Date.now() + 3_600_000).toISOString() })}
            >
              Snooze 1h
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
