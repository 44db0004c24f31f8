/**
 * Where notifications go, from the page: the channels (add a webhook, an ntfy topic, a Slack-style
 * webhook or this machine's desktop; test or remove any), the quiet hours, and what became of the
 * latest notifications. The server owns the settings (`/api/notify`); this view only edits them.
 */
import type { AttentionReason } from "@orbitdock/domain"
import { useCallback, useEffect, useState } from "react"
import { getJson, postJson } from "../connection.js"

interface ChannelView {
  readonly id: string
  readonly kind: "webhook" | "ntfy" | "slack" | "desktop" | "webpush"
  readonly url?: string
  readonly name?: string
  readonly reasons?: ReadonlyArray<AttentionReason>
  readonly has_secret: boolean
  readonly push_service?: string
}
interface Settings {
  readonly channels: ReadonlyArray<ChannelView>
  readonly quiet_hours?: { readonly from: string; readonly to: string }
}
interface Delivery {
  readonly notification_id: string
  readonly channel_id: string
  readonly status: string
  readonly attempts: number
  readonly updated_at: string
  readonly detail: string
}

const REASONS: ReadonlyArray<AttentionReason> = ["approval", "question", "turn_finished", "error", "stalled"]
const KINDS = ["webhook", "ntfy", "slack", "desktop"] as const

export const NotifySettings = ({ token }: { token: string }) => {
  const [settings, setSettings] = useState<Settings | null>(null)
  const [deliveries, setDeliveries] = useState<ReadonlyArray<Delivery>>([])
  const [status, setStatus] = useState<string | null>(null)
  const [kind, setKind] = useState<(typeof KINDS)[number]>("webhook")
  const [url, setUrl] = useState("")
  const [secret, setSecret] = useState("")
  const [name, setName] = useState("")
  const [reasons, setReasons] = useState<ReadonlySet<AttentionReason>>(new Set(REASONS))
  const [quietFrom, setQuietFrom] = useState("22:00")
  const [quietTo, setQuietTo] = useState("07:00")

  const reload = useCallback(async () => {
    try {
      const [next, recent] = await Promise.all([
        getJson<Settings>(token, "/api/notify"),
        getJson<{ deliveries: ReadonlyArray<Delivery> }>(token, "/api/notify/deliveries")
      ])
      setSettings(next)
      setDeliveries(recent.deliveries.slice(0, 20))
    } catch (error) {
      setStatus(`Could not read the settings: ${error instanceof Error ? error.message : String(error)}`)
    }
  }, [token])
  useEffect(() => void reload(), [reload])

  const act = (what: string, run: () => Promise<unknown>) =>
    run().then(
      () => {
        setStatus(what)
        return reload()
      },
      (error: unknown) => setStatus(`${error instanceof Error ? error.message : String(error)}`)
    )

  const add = () =>
    act("Channel added.", () =>
      postJson(token, "/api/notify/channels", {
        kind,
        ...(kind === "desktop" ? {} : { url }),
        ...(secret !== "" && (kind === "webhook" || kind === "ntfy") ? { secret } : {}),
        ...(name !== "" ? { name } : {}),
        ...(reasons.size < REASONS.length ? { reasons: REASONS.filter((r) => reasons.has(r)) } : {})
      }).then(() => {
        setUrl("")
        setSecret("")
        setName("")
      })
    )

  return (
    <section className="notify" data-testid="notify-settings" aria-labelledby="notify-title">
      <h2 id="notify-title">Notifications</h2>
      {status !== null && (
        <p role="status" className="muted" data-testid="notify-status">
          {status}
        </p>
      )}
      <h3>Channels</h3>
      {settings !== null && settings.channels.length === 0 && <p className="muted">No channel yet.</p>}
      <ul className="notify-channels">
        {settings?.channels.map((channel) => (
          <li key={channel.id} data-testid="notify-channel" data-channel-id={channel.id}>
            <span className="badge">{channel.kind}</span> <strong>{channel.name ?? channel.url ?? channel.push_service ?? "this machine"}</strong>{" "}
            <span className="muted">{channel.reasons ? channel.reasons.join(", ") : "every reason"}</span>
            <span className="spacer" />
            <button type="button" className="small" onClick={() => void act("Test sent.", () => postJson(token, "/api/notify/test", { id: channel.id }))}>
              Test
            </button>
            <button
              type="button"
              className="small danger"
              data-testid="notify-remove"
              onClick={() => void act("Channel removed.", () => postJson(token, "/api/notify/channels/remove", { id: channel.id }))}
            >
              Remove
            </button>
          </li>
        ))}
      </ul>
      <form
        className="notify-add"
        onSubmit={(event) => {
          event.preventDefault()
          void add()
        }}
      >
        <label>
          Kind{" "}
          <select value={kind} onChange={(e) => setKind(e.target.value as (typeof KINDS)[number])} data-testid="notify-kind">
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        {kind !== "desktop" && (
          <label>
            URL <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} data-testid="notify-url" placeholder="https://…" />
          </label>
        )}
        {(kind === "webhook" || kind === "ntfy") && (
          <label>
            {kind === "webhook" ? "Signing secret" : "Access token"} (optional){" "}
            <input type="password" value={secret} onChange={(e) => setSecret(e.target.value)} autoComplete="off" />
          </label>
        )}
        <label>
          Name (optional) <input value={name} onChange={(e) => setName(e.target.value)} data-testid="notify-name" />
        </label>
        <fieldset>
          <legend>Reasons</legend>
          {REASONS.map((reason) => (
            <label key={reason} className="check">
              <input
                type="checkbox"
                checked={reasons.has(reason)}
                onChange={() =>
                  setReasons((current) => {
                    const next = new Set(current)
                    if (next.has(reason)) next.delete(reason)
                    else next.add(reason)
                    return next
                  })
                }
              />{" "}
              {reason.replace("_", " ")}
            </label>
          ))}
        </fieldset>
        <button type="submit" data-testid="notify-add" disabled={reasons.size === 0}>
          Add channel
        </button>
      </form>
      <h3>Quiet hours</h3>
      <p className="muted" data-testid="notify-quiet">
        {settings?.quiet_hours ? `Quiet from ${settings.quiet_hours.from} to ${settings.quiet_hours.to} (the server's time).` : "None."}
      </p>
      <div className="notify-quiet">
        <label>
          From <input type="time" value={quietFrom} onChange={(e) => setQuietFrom(e.target.value)} />
        </label>
        <label>
          To <input type="time" value={quietTo} onChange={(e) => setQuietTo(e.target.value)} />
        </label>
        <button type="button" onClick={() => void act("Quiet hours set.", () => postJson(token, "/api/notify/quiet", { from: quietFrom, to: quietTo }))}>
          Set
        </button>
        <button type="button" onClick={() => void act("Quiet hours off.", () => postJson(token, "/api/notify/quiet", { off: true }))}>
          Off
        </button>
      </div>
      <h3>Latest deliveries</h3>
      {deliveries.length === 0 ? (
        <p className="muted">Nothing delivered yet.</p>
      ) : (
        <table className="notify-deliveries">
          <tbody>
            {deliveries.map((d) => (
              <tr key={`${d.notification_id}/${d.channel_id}`}>
                <td>{d.status}</td>
                <td>{d.channel_id}</td>
                <td className="muted">{d.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
