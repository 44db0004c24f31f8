/**
 * One session: its header (provider, cwd, model, status, tokens), what it waits for (approval or
 * question, with the actions), the plan and the diff, the live conversation, the composer and the
 * turn controls; and the history scrubber, which swaps the live state for the state at an earlier
 * revision (read from `GET /api/sessions/:id?at_revision=N`). The live state is the SDK's mirror.
 */
import type { Mirror } from "@orbitdock/client-sdk"
import type { SessionState } from "@orbitdock/domain"
import { useEffect, useRef, useState } from "react"
import { describeError, type OrbitClient } from "../connection.js"
import * as Format from "../logic/format.js"
import type { ActionHandle } from "./App.js"
import { Conversation } from "./Conversation.js"
import { DiffView } from "./DiffView.js"
import { Pending } from "./Pending.js"
import { PlanView } from "./PlanView.js"
import { Scrubber } from "./Scrubber.js"

interface Props {
  readonly client: OrbitClient
  readonly token: string
  readonly sessionId: string
  readonly mirror: Mirror.Mirror
  readonly actions: ActionHandle
}

export const SessionView = ({ client, token, sessionId, mirror, actions }: Props) => {
  const [problem, setProblem] = useState<string | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [historyOpen, setHistoryOpen] = useState(false)
  const [past, setPast] = useState<SessionState | null>(null)
  const composer = useRef<HTMLTextAreaElement>(null)

  // Subscribed while shown; the SDK re-subscribes after reconnects and restarts on its own.
  useEffect(() => {
    let cancelled = false
    setProblem(null)
    const subscribe = () => {
      client.subscribeSession(sessionId, { queue: true, timeoutMs: 60_000 }).catch((e: unknown) => {
        if (cancelled) return
        const code = (e as { code?: string }).code
        if (code === "not_found") setProblem(`No session ${sessionId} on this server.`)
        else setTimeout(subscribe, 1000)
      })
    }
    subscribe()
    return () => {
      cancelled = true
      client.unsubscribeSession(sessionId).catch(() => {})
    }
  }, [client, sessionId])

  const live = mirror.sessions.get(sessionId as never)
  const summary = mirror.list?.get(sessionId as never)
  const shown = historyOpen && past !== null ? past : live
  const readOnly = historyOpen || live === undefined || live.status === "ended"

  const run = (what: Promise<unknown>) => {
    setError(null)
    what.catch((e: unknown) => setError(describeError(e)))
  }
  const approval = live?.pending_approval ?? null
  actions.approve = approval === null || historyOpen ? undefined : (scope) => run(client.approveTool(sessionId, approval.id, true, { scope }))
  actions.deny = approval === null || historyOpen ? undefined : () => run(client.approveTool(sessionId, approval.id, false))
  actions.focusComposer = () => composer.current?.focus()
  actions.toggleHistory = () => setHistoryOpen((open) => !open)
  useEffect(
    () => () => {
      actions.approve = undefined
      actions.deny = undefined
      actions.focusComposer = undefined
      actions.toggleHistory = undefined
    },
    [actions]
  )

  if (problem !== null) return <div className="empty" data-testid="session-problem">{problem}</div>
  if (shown === undefined) {
    return (
      <div className="empty muted" data-testid="session-loading">
        {summary === undefined ? "Loading session…" : `Loading ${summary.title ?? summary.cwd}…`}
      </div>
    )
  }

  return (
    <section className={`session${historyOpen ? " in-history" : ""}`} data-testid="session-view" data-session-id={sessionId}>
      <header className="session-header">
        <div className="session-title">
          <span className={`status-dot status-${shown.status}`} aria-hidden="true" />
          <h2 title={shown.cwd}>{shown.title ?? Format.basename(shown.cwd)}</h2>
          <span className="badge" data-testid="session-status">
            {shown.status}
          </span>
          {shown.attention && <span className="badge attention-badge">needs you</span>}
        </div>
        <div className="session-meta muted small">
          <span className={`provider provider-${shown.provider}`}>{shown.provider}</span>
          {shown.model !== undefined && <span>{shown.model}</span>}
          <span title="cwd">{shown.cwd}</span>
          <span title={`input ${shown.token_usage.input}, output ${shown.token_usage.output}, cached ${shown.token_usage.cached_input}`} data-testid="session-tokens">
            {Format.tokens(shown.token_usage.total)} tokens
            {shown.token_usage.context_window !== undefined && ` / ${Format.tokens(shown.token_usage.context_window)}`}
          </span>
          <span data-testid="session-revision">rev {shown.revision}</span>
          <span>{shown.messages.length} messages</span>
        </div>
        <div className="session-actions">
          <button type="button" onClick={() => setHistoryOpen((open) => !open)} aria-pressed={historyOpen} data-testid="history-toggle" title="History (h)">
            {historyOpen ? "Back to live" : "History"}
          </button>
          <button
            type="button"
            disabled={readOnly || live?.status !== "working"}
            onClick={() => run(client.interruptSession(sessionId))}
            data-testid="interrupt-button"
          >
            Interrupt
          </button>
          <button
            type="button"
            className="danger"
            disabled={readOnly}
            onClick={() => {
              if (window.confirm("End this session? The agent process is stopped.")) run(client.endSession(sessionId))
            }}
            data-testid="end-button"
          >
            End
          </button>
        </div>
      </header>
      {historyOpen && live !== undefined && (
        <Scrubber token={token} sessionId={sessionId} serverId={mirror.serverId} latest={live.revision} onState={setPast} />
      )}
      {error !== null && (
        <div className="error-line" role="alert" data-testid="action-error">
          {error}
        </div>
      )}
      <Pending session={shown} onRun={run} client={client} readOnly={historyOpen} />
      {shown.plan !== undefined && shown.plan.length > 0 && <PlanView plan={shown.plan} />}
      {shown.diff !== undefined && shown.diff !== "" && (
        <details className="panel session-diff">
          <summary>Diff of this turn</summary>
          <DiffView text={shown.diff} />
        </details>
      )}
      <Conversation messages={shown.messages} follow={!historyOpen} />
      {!historyOpen && <Composer session={shown} disabled={readOnly} inputRef={composer} onSend={(text) => run(client.sendMessage(sessionId, text))} />}
    </section>
  )
}

const Composer = ({
  session,
  disabled,
  inputRef,
  onSend
}: {
  session: SessionState
  disabled: boolean
  inputRef: React.RefObject<HTMLTextAreaElement | null>
  onSend: (text: string) => void
}) => {
  const [text, setText] = useState("")
  const send = () => {
    if (text.trim() === "" || disabled) return
    onSend(text)
    setText("")
  }
  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault()
        send()
      }}
    >
      <textarea
        ref={inputRef}
        rows={2}
        value={text}
        disabled={disabled}
        placeholder={session.status === "ended" ? "This session has ended." : "Message the agent (Enter to send, Shift+Enter for a new line)"}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault()
            send()
          }
        }}
        aria-label="Message"
        data-testid="composer"
      />
      <button type="submit" disabled={disabled || text.trim() === ""} data-testid="send-button">
        Send
      </button>
    </form>
  )
}
