/**
 * The page's one connection to the server, through the client SDK (browser entry): its live mirror
 * as React state, the server's notices, the token probe, and authenticated HTTP reads for the
 * history scrubber. The SDK owns the protocol, reconnects and resyncs; this module only adapts it.
 */
import { Client, type Mirror } from "@orbitdock/client-sdk"
import { startTransition, useEffect, useState } from "react"

export type OrbitClient = Client.Client
export type Notice = Client.Events["notice"]

/** The WebSocket URL of the server that served this page (same origin, so the Origin check passes). */
export const socketUrl = (): string => `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/ws`

/** Opens the connection without waiting: the mirror says `connecting` until the first `hello`. */
export const open = (token: string): Promise<OrbitClient> =>
  Client.connect({
    url: socketUrl(),
    token,
    tokenIn: "query",
    waitForConnection: false,
    reconnect: { initialMs: 200, maxMs: 3000 }
  })

/** Whether the server accepts this token: `ok`, `refused` (401), or `unreachable`. */
export const probe = async (token: string): Promise<"ok" | "refused" | "unreachable"> => {
  try {
    const answer = await fetch("/api/sessions?status=starting", { headers: { authorization: `Bearer ${token}` }, cache: "no-store" })
    if (answer.status === 401) return "refused"
    return answer.ok ? "ok" : "unreachable"
  } catch {
    return "unreachable"
  }
}

/** Exchanges a pairing code for this device's own token (no token needed); an Error with the server's reason. */
export const pair = async (code: string, name: string): Promise<string> => {
  const answer = await fetch("/api/pair", {
    method: "POST",
    headers: { "content-type": "application/json" },
    cache: "no-store",
    body: JSON.stringify({ code, name })
  })
  const json = (await answer.json().catch(() => undefined)) as { token?: string; message?: string } | undefined
  if (!answer.ok || typeof json?.token !== "string") throw new Error(json?.message ?? `${answer.status} ${answer.statusText}`)
  return json.token
}

/** An HTTP GET of the API with the token; the JSON body, or an Error carrying the server's message. */
export const getJson = async <A>(token: string, pathAndQuery: string, signal?: AbortSignal): Promise<A> => {
  const answer = await fetch(pathAndQuery, { headers: { authorization: `Bearer ${token}` }, cache: "no-store", ...(signal ? { signal } : {}) })
  const body = (await answer.json().catch(() => undefined)) as { code?: string; message?: string } | undefined
  if (!answer.ok) throw new Error(body?.message ?? `${answer.status} ${answer.statusText}`)
  return body as A
}

/** An HTTP POST of JSON to the API with the token; the JSON answer, or an Error carrying the server's message. */
export const postJson = async <A>(token: string, pathname: string, body: unknown): Promise<A> => {
  const answer = await fetch(pathname, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    cache: "no-store",
    body: JSON.stringify(body)
  })
  const json = (await answer.json().catch(() => undefined)) as { code?: string; message?: string } | undefined
  if (!answer.ok) throw new Error(json?.message ?? `${answer.status} ${answer.statusText}`)
  return json as A
}

/**
 * The mirror as React state: re-renders on each change (the SDK gives a new immutable value each
 * time), as a transition. A store read with `useSyncExternalStore` re-rendered the whole page
 * synchronously inside each frame's message handler; at 100 busy sessions that render was most of
 * the page's long tasks. As a transition React renders in slices between frames and input, and
 * renders only the latest mirror when several frames arrive during one render.
 */
export const useMirror = (client: OrbitClient): Mirror.Mirror => {
  const [mirror, setMirror] = useState(() => client.mirror)
  useEffect(() => {
    // A change between the first render and this subscription is picked up here.
    setMirror(client.mirror)
    return client.on("change", () => startTransition(() => setMirror(client.mirror)))
  }, [client])
  return mirror
}

/** A readable message for a failed command (the SDK's typed errors carry a code or a reason). */
export const describeError = (error: unknown): string => {
  if (typeof error === "object" && error !== null) {
    const e = error as { _tag?: string; code?: string; message?: string }
    if (e._tag === "ProtocolError" && e.code !== undefined) return `${e.code}: ${e.message ?? ""}`.trim()
    if (e._tag === "OfflineError") return "offline: the command was not sent"
    if (e._tag === "ConnectionLostError") return "the connection dropped before the answer (it may or may not have been applied)"
    if (e._tag === "TimeoutError") return "no answer in time"
    if (typeof e.message === "string" && e.message !== "") return e.message
  }
  return String(error)
}
