/**
 * A local mock push service for Web Push tests (`web-push-testing`: it checks each message's VAPID
 * signature and decrypts it as a browser would), on 127.0.0.1 over HTTPS with the test certificate
 * of `fixtures/push-tls` (push services speak HTTPS only, and so does `web-push`). The server must
 * trust that certificate: an `https.Agent` with `pushAgent` in-process, `NODE_EXTRA_CA_CERTS` for a
 * server process.
 */
import * as fs from "node:fs"
import * as https from "node:https"
import { createRequire } from "node:module"
import type { AddressInfo } from "node:net"
import * as path from "node:path"

const require = createRequire(import.meta.url)
const TestingServer = require("web-push-testing/src/server.js")
const { PushApiModel } = require("web-push-testing/src/PushApiModel.js")

const tls = path.join(import.meta.dirname, "../fixtures/push-tls")
/** The certificate's file, for `NODE_EXTRA_CA_CERTS`. */
export const certFile = path.join(tls, "cert.pem")
const cert = fs.readFileSync(certFile)
/** An agent that trusts the mock push service (and nothing else). */
export const pushAgent = new https.Agent({ ca: cert })

export interface PushService {
  /** A subscription for the server's VAPID public key: `{ endpoint, keys, clientHash }`. */
  readonly subscribe: (applicationServerKey: string) => Promise<{ endpoint: string; keys: { p256dh: string; auth: string }; clientHash: string }>
  /** The messages received for a subscription, decrypted. */
  readonly messages: (clientHash: string) => Promise<Array<string>>
  /** The browser unsubscribed: the endpoint answers 410 from now on. */
  readonly expire: (clientHash: string) => void
  readonly close: () => Promise<void>
}

/** Starts it (its own `start` would listen on every interface, in plain HTTP). */
export const startPushService = async (): Promise<PushService> => {
  const model = new PushApiModel()
  const service = new TestingServer(model, 0)
  service.setRequestHandlers()
  const listener = https.createServer({ cert, key: fs.readFileSync(path.join(tls, "key.pem")) }, service._app)
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve))
  const url = `https://127.0.0.1:${(listener.address() as AddressInfo).port}`
  model.notifyUrl = `${url}/notify/`
  const post = (pathname: string, body: unknown): Promise<any> =>
    new Promise((resolve, reject) => {
      const request = https.request(`${url}${pathname}`, { method: "POST", agent: pushAgent, headers: { "content-type": "application/json" } }, (response) => {
        let text = ""
        response.on("data", (chunk) => (text += chunk))
        response.on("end", () => resolve(JSON.parse(text)))
      })
      request.on("error", reject)
      request.end(JSON.stringify(body))
    })
  return {
    // It takes the options form-encoded: `userVisibleOnly` as the string "true".
    subscribe: async (key) => (await post("/subscribe", { userVisibleOnly: "true", applicationServerKey: key })).data,
    messages: async (clientHash) => (await post("/get-notifications", { clientHash })).data.messages,
    expire: (clientHash) => model.expireSubscription(clientHash),
    close: () => new Promise<void>((resolve) => listener.close(() => resolve()))
  }
}
