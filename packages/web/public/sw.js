/*
 * OrbitDock's service worker: shows the server's Web Push notifications (the page asked for them)
 * and handles their buttons. An approval's Approve/Deny button answers through the server with the
 * ticket the notification carries (this worker holds no token); any other click opens or focuses
 * the page on that session.
 */

self.addEventListener("install", () => self.skipWaiting())
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()))

self.addEventListener("push", (event) => {
  let data
  try {
    data = event.data ? event.data.json() : null
  } catch {
    data = null
  }
  if (data === null || typeof data.title !== "string") return
  const actions = Array.isArray(data.actions) ? data.actions : []
  event.waitUntil(
    self.registration.showNotification(data.title, {
      body: data.body,
      tag: data.tag,
      renotify: true,
      requireInteraction: data.reason === "approval" || data.reason === "question",
      icon: "/icon-192.png",
      badge: "/icon-192.png",
      data: { url: data.url, session_id: data.session_id, actions },
      actions: actions.map((a) => ({ action: a.action, title: a.title }))
    })
  )
})

/** Answers with a button's ticket; the result is shown as a notification of its own. */
const act = async (ticket, title) => {
  let message
  try {
    const response = await fetch("/api/notify/act", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ticket })
    })
    const body = await response.json().catch(() => ({}))
    message = response.ok ? `${title}: done` : `${title}: not done (${body.message || response.status})`
  } catch (error) {
    message = `${title}: the server could not be reached`
  }
  await self.registration.showNotification("OrbitDock", { body: message, tag: "orbitdock:act", icon: "/icon-192.png" })
  return message
}

/** Opens the page on `url`, or focuses a page already open and sends it there. */
const open = async (url) => {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true })
  for (const client of windows) {
    if ("focus" in client) {
      await client.focus()
      if ("navigate" in client && url) await client.navigate(url).catch(() => {})
      return
    }
  }
  if (url) await self.clients.openWindow(url)
}

/** What a click on the notification (or one of its buttons) does; also reached by tests. */
self.orbitdockClick = async (notificationData, action) => {
  const button = (notificationData.actions || []).find((a) => a.action === action)
  if (button) return act(button.ticket, button.title)
  await open(notificationData.url)
  return "opened"
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close()
  event.waitUntil(self.orbitdockClick(event.notification.data || {}, event.action))
})
