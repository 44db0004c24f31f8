/**
 * Notifications on this device: the service worker (registered when the page loads, so the page
 * is installable) and the Web Push subscription (made only when the person asks for notifications:
 * the browser's permission prompt comes from their click, never on load), handed to the server as a
 * `webpush` channel.
 */

/** What this browser can do: `unsupported` (no service workers or push), or the permission so far. */
export type PushState = "unsupported" | "default" | "granted" | "denied"

export const pushState = (): PushState => {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return "unsupported"
  return Notification.permission
}

/** Registers `/sw.js` (scope `/`); resolves to the registration, or undefined where unsupported. */
export const registerWorker = async (): Promise<ServiceWorkerRegistration | undefined> => {
  if (!("serviceWorker" in navigator)) return undefined
  return navigator.serviceWorker.register("/sw.js", { scope: "/" })
}

const keyBytes = (base64url: string): ArrayBuffer => {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=")
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer
}

const api = async <A>(token: string, method: "GET" | "POST", pathname: string, body?: unknown): Promise<A> => {
  const answer = await fetch(pathname, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    cache: "no-store",
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const json = (await answer.json().catch(() => undefined)) as { message?: string } | undefined
  if (!answer.ok) throw new Error(json?.message ?? `${answer.status} ${answer.statusText}`)
  return json as A
}

/**
 * Asks for permission (call it from a click), subscribes this browser with the server's key and
 * registers it as a channel. Resolves with what happened, for the person to read.
 */
export const enablePush = async (token: string): Promise<string> => {
  if (pushState() === "unsupported") return "This browser cannot show notifications from the server."
  const permission = await Notification.requestPermission()
  if (permission !== "granted") return "Notifications are blocked for this page (the browser's site settings can allow them)."
  const registration = (await registerWorker())!
  await navigator.serviceWorker.ready
  const { public_key } = await api<{ public_key: string }>(token, "GET", "/api/notify/push/key")
  const subscription =
    (await registration.pushManager.getSubscription()) ??
    (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(public_key) }))
  const json = subscription.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } }
  await api(token, "POST", "/api/notify/channels", {
    kind: "webpush",
    subscription: { endpoint: json.endpoint, keys: json.keys },
    name: navigator.userAgent.slice(0, 200)
  })
  return "This device will be notified when a session needs you."
}
