/**
 * The real OrbitDock server as a child process (`node packages/server/dist/bundle/bin.js serve`: what `npm start` runs), on
 * 127.0.0.1 without a Unix socket, with a data dir that survives a restart (kill it, start it again
 * on the same port and data dir), and a Node client of the SDK to drive sim sessions beside the page.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath } from "node:url"
import { Client } from "../../../packages/client-sdk/dist/node.js"

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = path.join(repoRoot, "packages/server/dist/bundle/bin.js")

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

/** Starts the server; `port` 0 picks a free one (use the same port to restart). */
export const startServer = (options: { readonly dataDir: string; readonly port?: number }): Promise<Server> =>
  new Promise((resolve, reject) => {
    // The token comes from <data-dir>/token, as for a user (never a stray ORBITDOCK_TOKEN).
    const { ORBITDOCK_TOKEN: _ignored, ...env } = process.env
    const child: ChildProcess = spawn(
      process.execPath,
      [bin, "serve", "--port", String(options.port ?? 0), "--data-dir", options.dataDir, "--socket", "none", "--log-level", "warn", "--flush-ms", "20"],
      { stdio: ["ignore", "pipe", "pipe"], env }
    )
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the server did not start within 20 s: ${stderr}`))
    }, 20_000)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code}) before listening: ${stderr}`))
    })
    const lines = readline.createInterface({ input: child.stdout! })
    lines.once("line", (line) => {
      clearTimeout(timer)
      const listening = JSON.parse(line) as { event: string; url: string; port: number }
      const token = fs.readFileSync(path.join(options.dataDir, "token"), "utf8").trim()
      resolve({
        url: listening.url,
        port: listening.port,
        token,
        dataDir: options.dataDir,
        pid: child.pid!,
        pageUrl: `${listening.url}/#token=${token}`,
        stop: async (signal = "SIGKILL") => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          await exited
        },
        get: async (pathAndQuery) => {
          const answer = await fetch(`${listening.url}${pathAndQuery}`, { headers: { authorization: `Bearer ${token}` } })
          if (!answer.ok) throw new Error(`GET ${pathAndQuery}: ${answer.status} ${await answer.text()}`)
          return answer.json()
        }
      })
    })
  })

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
