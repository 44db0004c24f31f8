/**
 * The real OrbitDock server as a child process (the bundle `npm start` runs, started by the
 * server's test kit), on 127.0.0.1 without a Unix socket, with a data dir that survives a restart
 * (kill it, start it again on the same port and data dir), and a Node client of the SDK to drive
 * sim sessions beside the page.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Client } from "../../../packages/client-sdk/dist/node.js"
import { launchServer } from "@orbitdock/test-kit"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

export interface Server {
  readonly url: string
  readonly port: number
  readonly token: string
  readonly dataDir: string
  readonly pid: number
  /** The URL `orbitdock open` prints (the token in the fragment). */
  readonly pageUrl: string
  /** Kills the process (SIGKILL by default) and waits for it to exit. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
  /** GET a JSON resource with the token. */
  readonly get: (pathAndQuery: string) => Promise<any>
}

export const tempDir = (prefix: string): string => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

/** Starts the server (the bundle `npm start` runs); `port` 0 picks a free one (use the same port to restart). */
export const startServer = async (options: {
  readonly dataDir: string
  readonly port?: number
  /** More environment (e.g. `NODE_EXTRA_CA_CERTS`). */
  readonly env?: Readonly<Record<string, string>>
}): Promise<Server> => {
  // The token comes from <data-dir>/token, as for a user (never a stray ORBITDOCK_TOKEN).
  const { ORBITDOCK_TOKEN: _token, ...env } = process.env
  const server = await launchServer({
    dataDir: options.dataDir,
    entry: "bundle",
    port: options.port ?? 0,
    args: ["--socket", "none", "--flush-ms", "20"],
    env: { ...env, ...options.env }
  })
  const { listening, token } = server
  return {
    url: listening.url,
    port: listening.port,
    token,
    dataDir: options.dataDir,
    pid: server.child.pid!,
    pageUrl: `${listening.url}/#token=${token}`,
    stop: server.stop,
    get: async (pathAndQuery) => {
      const answer = await fetch(`${listening.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${token}` } })
      if (!answer.ok) throw new Error(`GET ${pathAndQuery}: ${answer.status} ${await answer.text()}`)
      return answer.json()
    }
  }
}

/** An SDK client (Node entry) of a server with the list subscribed, for driving sessions beside the page. */
export const sdkClient = async (server: Server): Promise<Client.Client> => {
  const client = await Client.connect({ url: `${server.url.replace(/^http/, "ws")}/ws`, token: server.token })
  await client.subscribeList()
  return client
}

/** Polls `check` until it returns a value (not undefined), for things outside the page (processes). */
export const waitUntil = async <A>(check: () => Promise<A | undefined> | A | undefined, timeoutMs = 15_000, what = "condition"): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
