/**
 * The page's frame: header (connection state, theme, help), the fleet on the left, the selected
 * session (or the new-session form, the inbox, notification settings, paired devices) on the right,
 * the route in the URL hash (`#/s/<id>`, `#/new`, `#/inbox`, `#/notify`, `#/devices`, `#/rules`),
 * and the global keyboard shortcuts. Live data comes only from the SDK's mirror.
 */
import type { SessionSummary } from "@orbitdock/domain"
import { useCallback, useEffect, useMemo, useState } from "react"
import { type Notice, type OrbitClient, useMirror } from "../connection.js"
import * as Fleet from "../logic/fleet.js"
import * as Theme from "../theme.js"
import { ConnectionBadge } from "./ConnectionBadge.js"
import { DevicesView } from "./DevicesView.js"
import { RulesView } from "./RulesView.js"
import { FleetView } from "./FleetView.js"
import { InboxView } from "./InboxView.js"
import { NotifySettings } from "./NotifySettings.js"
import { NewSession } from "./NewSession.js"
import { SessionView } from "./SessionView.js"

type Route =
  | { readonly _tag: "fleet" }
  | { readonly _tag: "session"; readonly id: string }
  | { readonly _tag: "new" }
  | { readonly _tag: "inbox" }
  | { readonly _tag: "notify" }
  | { readonly _tag: "devices" }
  | { readonly _tag: "rules"; readonly from: { readonly sessionId: string; readonly requestId: string } | null }

const parseRoute = (hash: string): Route => {
  const session = /^#\/s\/(.+)$/.exec(hash)
  if (session !== null) return { _tag: "session", id: decodeURIComponent(session[1]) }
  if (hash === "#/new") return { _tag: "new" }
  if (hash === "#/inbox") return { _tag: "inbox" }
  if (hash === "#/notify") return { _tag: "notify" }
  if (hash === "#/devices") return { _tag: "devices" }
  if (hash === "#/rules") return { _tag: "rules", from: null }
  const fromRequest = /^#\/rules\/from\/([^/]+)\/([^/]+)$/.exec(hash)
  if (fromRequest !== null) return { _tag: "rules", from: { sessionId: decodeURIComponent(fromRequest[1]!), requestId: decodeURIComponent(fromRequest[2]!) } }
  // A notification's link: `/?session=<id>`.
  const linked = new URLSearchParams(window.location.search).get("session")
  if (linked !== null && (hash === "" || hash === "#/")) return { _tag: "session", id: linked }
  return { _tag: "fleet" }
}

export const go = (route: Route): void => {
  window.location.hash =
    route._tag === "session"
      ? `#/s/${encodeURIComponent(route.id)}`
      : route._tag === "fleet"
        ? "#/"
        : route._tag === "rules" && route.from !== null
          ? `#/rules/from/${encodeURIComponent(route.from.sessionId)}/${encodeURIComponent(route.from.requestId)}`
          : `#/${route._tag}`
}

const isTyping = (target: EventTarget | null): boolean =>
  target instanceof HTMLElement && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))

export interface ActionHandle {
  approve?: (scope: "once" | "session") => void
  deny?: () => void
  focusComposer?: () => void
  toggleHistory?: () => void
}

/** Subscribes once (queued while offline), trying again every second until the server takes it. */
const useKept = (client: OrbitClient, subscribe: (call: { queue: boolean; timeoutMs: number }) => Promise<unknown>): void =>
  useEffect(() => {
    let cancelled = false
    const attempt = () => {
      subscribe({ queue: true, timeoutMs: 60_000 }).catch(() => {
        if (!cancelled) setTimeout(attempt, 1000)
      })
    }
    attempt()
    return () => {
      cancelled = true
    }
    // `subscribe` is the same for a client: only a new client subscribes again.
  }, [client])

export const App = ({ client, token }: { client: OrbitClient; token: string }) => {
  const mirror = useMirror(client)
  const [route, setRoute] = useState<Route>(() => parseRoute(window.location.hash))
  const [filter, setFilter] = useState<Fleet.FleetFilter>(Fleet.noFilter)
  const [theme, setTheme] = useState<Theme.Theme>(Theme.load)
  const [toast, setToast] = useState<string | null>(null)
  // Why the server cannot persist right now (null: it can). A new connection hears it again.
  const [degraded, setDegraded] = useState<string | null>(null)
  const [help, setHelp] = useState(false)
  const [actions] = useState<ActionHandle>({})

  useEffect(() => {
    const onHash = () => {
      const next = parseRoute(window.location.hash)
      setRoute((current) => (JSON.stringify(current) === JSON.stringify(next) ? current : next))
    }
    window.addEventListener("hashchange", onHash)
    // A hash changed between the first render and this listener (e.g. a link followed while the
    // page started) would otherwise be missed until the next change.
    onHash()
    return () => window.removeEventListener("hashchange", onHash)
  }, [])

  // The list and inbox subscriptions are remembered by the SDK and redone after every reconnect;
  // queued so that a page opened while the server is down subscribes once it is up.
  useKept(client, (call) => client.subscribeList(call))
  useKept(client, (call) => client.subscribeInbox(call))

  useEffect(
    () =>
      client.on("notice", (notice: Notice) => {
        if (notice._tag === "ServerRestarted") setToast("The server restarted: every view was reloaded from its new state.")
        else if (notice._tag === "SessionDropped") setToast(`Session ${notice.session_id} is gone from the server.`)
        else if (notice._tag === "ServerStatus") setDegraded(notice.status === "degraded" ? (notice.reason ?? "unknown reason") : null)
        else if (notice._tag === "Disconnected") setDegraded(null)
      }),
    [client]
  )
  useEffect(() => {
    if (toast === null) return
    const timer = setTimeout(() => setToast(null), 6000)
    return () => clearTimeout(timer)
  }, [toast])

  const summaries = useMemo<ReadonlyArray<SessionSummary>>(() => [...(mirror.list?.values() ?? [])], [mirror.list])
  const ordered = useMemo(() => Fleet.view(summaries, filter), [summaries, filter])
  const selectedId = route._tag === "session" ? route.id : undefined

  const onKey = useCallback(
    (event: KeyboardEvent) => {
      if (event.metaKey || event.ctrlKey || event.altKey) return
      if (event.key === "Escape") {
        if (help) setHelp(false)
        else if (isTyping(event.target)) (event.target as HTMLElement).blur()
        return
      }
      if (isTyping(event.target)) return
      const select = (session: SessionSummary | undefined) => session !== undefined && go({ _tag: "session", id: session.id })
      switch (event.key) {
        case "a":
        case "n":
          select(Fleet.nextAttention(ordered, selectedId))
          break
        case "j":
        case "ArrowDown":
          select(Fleet.neighbour(ordered, selectedId, 1))
          break
        case "k":
        case "ArrowUp":
          select(Fleet.neighbour(ordered, selectedId, -1))
          break
        case "y":
          actions.approve?.("once")
          break
        case "Y":
          actions.approve?.("session")
          break
        case "d":
        case "x":
          actions.deny?.()
          break
        case "i":
        case "/":
          actions.focusComposer?.()
          break
        case "h":
          actions.toggleHistory?.()
          break
        case "c":
          go({ _tag: "new" })
          break
        case "b":
          go({ _tag: "inbox" })
          break
        case "g":
          go({ _tag: "fleet" })
          break
        case "t":
          setTheme((current) => {
            const next = Theme.next(current)
            Theme.apply(next)
            return next
          })
          break
        case "?":
          setHelp((shown) => !shown)
          break
        default:
          return
      }
      event.preventDefault()
    },
    [ordered, selectedId, actions, help]
  )
  useEffect(() => {
    window.addEventListener("keydown", onKey)
    return () => window.removeEventListener("keydown", onKey)
  }, [onKey])

  const attention = summaries.filter((s) => s.attention).length
  const inbox = useMemo(() => client.inbox(), [client, mirror.inbox])
  useEffect(() => {
    document.title = attention > 0 ? `(${attention}) OrbitDock` : "OrbitDock"
  }, [attention])

  return (
    <div className="app" data-route={route._tag}>
      <header className="topbar">
        <span className="brand">OrbitDock</span>
        <span className="attention-count" data-testid="attention-count" title="Sessions needing you (a: jump to the next)">
          {attention > 0 ? `${attention} need${attention === 1 ? "s" : ""} you` : "nothing needs you"}
        </span>
        <span className="spacer" />
        {route._tag !== "fleet" && (
          <button type="button" className="phone-only" onClick={() => go({ _tag: "fleet" })} data-testid="fleet-button" title="Sessions (g)">
            ‹ Sessions
          </button>
        )}
        <button type="button" onClick={() => go({ _tag: "inbox" })} data-testid="inbox-button" title="Inbox (b)">
          Inbox{inbox.length > 0 ? ` (${inbox.length})` : ""}
        </button>
        <button type="button" onClick={() => go({ _tag: "new" })} data-testid="new-session-button" title="New session (c)">
          + New session
        </button>
        <button
          type="button"
          title="Theme (t)"
          data-testid="theme-button"
          onClick={() => {
            const next = Theme.next(theme)
            Theme.apply(next)
            setTheme(next)
          }}
        >
          {theme === "system" ? "◐ auto" : theme === "light" ? "☀ light" : "☾ dark"}
        </button>
        <button type="button" title="Keyboard shortcuts (?)" onClick={() => setHelp((shown) => !shown)}>
          ?
        </button>
        <ConnectionBadge connection={mirror.connection} serverId={mirror.serverId} />
      </header>
      {degraded !== null && (
        <div className="banner" role="alert" data-testid="degraded-banner">
          The server cannot save right now: {degraded}. What you see is kept and retried; commands wait until it recovers.
        </div>
      )}
      {toast !== null && (
        <div className="toast" role="status" data-testid="toast">
          {toast}
        </div>
      )}
      {help && <Help onClose={() => setHelp(false)} />}
      <div className="panes">
        <FleetView
          sessions={summaries}
          ordered={ordered}
          loaded={mirror.list !== undefined}
          filter={filter}
          onFilter={setFilter}
          selectedId={selectedId}
          onSelect={(id) => go({ _tag: "session", id })}
        />
        <main className="detail">
          {route._tag === "session" ? (
            <SessionView key={route.id} client={client} token={token} sessionId={route.id} mirror={mirror} actions={actions} />
          ) : route._tag === "new" ? (
            <NewSession client={client} sessions={summaries} onCreated={(id) => go({ _tag: "session", id })} />
          ) : route._tag === "notify" ? (
            <NotifySettings token={token} />
          ) : route._tag === "devices" ? (
            <DevicesView token={token} />
          ) : route._tag === "rules" ? (
            <RulesView key={window.location.hash} client={client} token={token} from={route.from} />
          ) : route._tag === "inbox" ? (
            <InboxView client={client} token={token} items={inbox} loaded={mirror.inbox !== undefined} onOpen={(id) => go({ _tag: "session", id })} />
          ) : (
            <Overview total={summaries.length} attention={attention} />
          )}
        </main>
      </div>
    </div>
  )
}

const Overview = ({ total, attention }: { total: number; attention: number }) => (
  <div className="overview" data-testid="overview">
    <h2>{total} session{total === 1 ? "" : "s"}</h2>
    <p>{attention > 0 ? `${attention} waiting for you — press a to jump to the next one.` : "Select a session, or press c to start one."}</p>
    <p className="muted">Press ? for keyboard shortcuts.</p>
  </div>
)

const SHORTCUTS: ReadonlyArray<readonly [string, string]> = [
  ["a / n", "next session needing attention"],
  ["j / k, ↓ / ↑", "next / previous session"],
  ["y", "approve once"],
  ["Y", "approve for the session"],
  ["d / x", "deny"],
  ["i or /", "write a message"],
  ["h", "history scrubber"],
  ["c", "new session"],
  ["b", "the inbox"],
  ["g", "back to the fleet"],
  ["t", "theme"],
  ["Esc", "leave a field / close"]
]

const Help = ({ onClose }: { onClose: () => void }) => (
  <div className="help" role="dialog" aria-label="Keyboard shortcuts" onClick={onClose}>
    <table>
      <tbody>
        {SHORTCUTS.map(([keys, what]) => (
          <tr key={keys}>
            <td>
              <kbd>{keys}</kbd>
            </td>
            <td>{what}</td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
)
