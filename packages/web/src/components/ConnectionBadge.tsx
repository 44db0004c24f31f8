/** The connection state, always visible in the header. */
import type { Mirror } from "@orbitdock/client-sdk"

const LABELS: Record<Mirror.ConnectionState, string> = {
  connecting: "connecting…",
  online: "live",
  reconnecting: "reconnecting…",
  closed: "disconnected"
}

export const ConnectionBadge = ({ connection, serverId }: { connection: Mirror.ConnectionState; serverId: string | undefined }) => (
  <span
    className={`connection connection-${connection}`}
    data-testid="connection"
    data-state={connection}
    title={serverId === undefined ? "not connected yet" : `server ${serverId}`}
    role="status"
  >
    <span className="dot" aria-hidden="true" />
    {LABELS[connection]}
  </span>
)
