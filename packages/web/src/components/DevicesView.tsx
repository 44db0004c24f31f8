/**
 * Paired devices, from the page: pair a phone (a QR code of a pairing link, its code, how long it
 * is good for, and the moment it was used), and the devices already paired, each revocable on its
 * own. The server owns them (`/api/devices`); a paired device may see the list and unpair itself,
 * only the server's own token pairs or revokes others.
 */
import { useCallback, useEffect, useState } from "react"
import { getJson, postJson } from "../connection.js"
import { useNow } from "./useNow.js"

interface Device {
  readonly id: string
  readonly name: string
  readonly created_at: string
  readonly last_seen_at: string | null
  readonly current: boolean
}

interface Offer {
  readonly code: string
  readonly expires_at: string
  readonly url: string
  readonly reachable: boolean
  readonly qr_svg: string
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const when = (iso: string | null): string => (iso === null ? "never" : new Date(iso).toLocaleString())

export const DevicesView = ({ token }: { token: string }) => {
  const [devices, setDevices] = useState<ReadonlyArray<Device> | null>(null)
  const [offer, setOffer] = useState<Offer | null>(null)
  const [paired, setPaired] = useState<Device | null>(null)
  const [status, setStatus] = useState<string | null>(null)
  const now = useNow(1000)

  const reload = useCallback(async (): Promise<ReadonlyArray<Device>> => {
    const answer = await getJson<{ devices: ReadonlyArray<Device> }>(token, "/api/devices")
    setDevices(answer.devices)
    return answer.devices
  }, [token])
  useEffect(() => {
    reload().catch((error: unknown) => setStatus(`Could not read the devices: ${message(error)}`))
  }, [reload])

  // While a code waits: look for the device that used it.
  const expiresAt = offer === null ? 0 : Date.parse(offer.expires_at)
  const expired = offer !== null && now >= expiresAt
  useEffect(() => {
    if (offer === null || expired) return
    const before = new Set((devices ?? []).map((device) => device.id))
    const timer = setInterval(() => {
      reload().then(
        (next) => {
          const fresh = next.find((device) => !before.has(device.id))
          if (fresh !== undefined) {
            setPaired(fresh)
            setOffer(null)
          }
        },
        () => {}
      )
    }, 1500)
    return () => clearInterval(timer)
    // Not on `devices`: the list at the moment the offer was made is the baseline.
  }, [offer, expired, reload])

  const startPairing = () => {
    setPaired(null)
    postJson<Offer>(token, "/api/devices/pair", {}).then(
      (next) => {
        setOffer(next)
        setStatus(null)
      },
      (error: unknown) => setStatus(`Could not start pairing: ${message(error)}`)
    )
  }

  const revoke = (device: Device) => {
    if (!window.confirm(`Unpair ${device.name}? It will need a new pairing to get in again.`)) return
    postJson(token, "/api/devices/revoke", { id: device.id }).then(
      () => {
        setStatus(`${device.name} was unpaired.`)
        return reload()
      },
      (error: unknown) => setStatus(message(error))
    )
  }

  return (
    <section className="devices" data-testid="devices" aria-label="Paired devices">
      <h2>Devices</h2>
      <p className="muted">
        A paired phone gets a token of its own: unpairing it (a lost phone) leaves this page and every other device connected.
      </p>
      <div>
        <button type="button" data-testid="pair-start" onClick={startPairing}>
          {offer === null ? "Pair a phone" : "New code"}
        </button>
      </div>
      {offer !== null && (
        <div className="pair-offer" data-testid="pair-offer">
          <img className="pair-qr" data-testid="pair-qr" alt={`QR code of the pairing link ${offer.url}`} src={`data:image/svg+xml;base64,${btoa(offer.qr_svg)}`} />
          <div className="pair-text">
            <p>Scan this with the phone's camera, or open the link on it and type the code.</p>
            <p>
              Code <strong data-testid="pair-code">{offer.code}</strong>{" "}
              {expired ? (
                <span className="error">expired: start again</span>
              ) : (
                <span className="muted">good once, for {Math.max(0, Math.ceil((expiresAt - now) / 1000))} s</span>
              )}
            </p>
            <p>
              <a href={offer.url} data-testid="pair-link">
                {offer.url}
              </a>
            </p>
            {!offer.reachable && (
              <p className="error" data-testid="pair-unreachable">
                This link names this machine's loopback address, which a phone cannot open. Serve with{" "}
                <code>--host 0.0.0.0 --public-host &lt;this machine's name&gt;</code> (or behind a proxy, <code>orbitdock pair --link-base</code>).
              </p>
            )}
          </div>
        </div>
      )}
      {paired !== null && (
        <p role="status" data-testid="pair-done">
          Paired {paired.name}.
        </p>
      )}
      {status !== null && (
        <p role="status" className="muted" data-testid="devices-status">
          {status}
        </p>
      )}
      <h3>Paired</h3>
      {devices !== null && devices.length === 0 && <p className="muted">No paired devices yet.</p>}
      <ul className="device-list">
        {(devices ?? []).map((device) => (
          <li key={device.id} data-testid="device" data-device-id={device.id}>
            <strong>{device.name}</strong>
            {device.current && <span className="badge">this device</span>}
            <span className="muted">
              paired {when(device.created_at)}, last seen {when(device.last_seen_at)}
            </span>
            <span className="spacer" />
            <button type="button" className="danger" data-testid="device-revoke" onClick={() => revoke(device)} aria-label={`Unpair ${device.name}`}>
              Unpair
            </button>
          </li>
        ))}
      </ul>
    </section>
  )
}
