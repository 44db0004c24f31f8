/**
 * The real OrbitDock server as a child process (`node packages/server/dist/bin.js serve`), for SDK
 * tests that need real sockets, a real SQLite log and real crashes (SIGKILL). Waits for the
 * `{"event":"listening",…}` line the server prints, never for a fixed time.
 */
import { afterAll, beforeAll } from "vitest"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../server/dist/bin.js")

export interface Listening {
  readonly url: string
  readonly port: number
  readonly socket: string | null
  readonly server_id: string
  readonly pid: number
}

export interface ServerProcess {
  readonly dataDir: string
  readonly token: string
  /** The current process's listening line. */
  readonly listening: () => Listening
  readonly wsUrl: () => string
  readonly socketPath: () => string
  /** GET over TCP with the token; the parsed JSON body. */
  readonly get: (pathAndQuery: string) => Promise<{ status: number; body: any }>
  /** SIGKILL, and wait until the process is gone. */
  readonly kill: () => Promise<void>
  /** Starts again on the same data dir and port. */
  readonly restart: () => Promise<Listening>
  /** Stops the process (SIGTERM, then SIGKILL) and removes the data dir. */
  readonly cleanup: () => Promise<void>
}

const startProcess = (dataDir: string, token: string, port: number) =>
  new Promise<{ child: ChildProcess; listening: Listening }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", String(port), "--data-dir", dataDir, "--token", token, "--log-level", "warn", "--flush-ms", "20"],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let err = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`server did not start within 20 s; stderr: ${err}`))
    }, 20_000)
    child.stdout!.setEncoding("utf8")
    child.stderr!.setEncoding("utf8")
    child.stderr!.on("data", (chunk: string) => {
      err += chunk
    })
    child.stdout!.on("data", (chunk: string) => {
      out += chunk
      const line = out.split("\n").find((l) => l.startsWith("{") && l.includes('"listening"'))
      if (line === undefined) return
      clearTimeout(timer)
      resolve({ child, listening: JSON.parse(line) as Listening })
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server exited (${code ?? signal}) before listening; stderr: ${err}`))
    })
  })

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
  })

/** Starts a server in a fresh temp data dir on a free port. */
export const startServer = async (): Promise<ServerProcess> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-sdk-"))
  const token = randomBytes(32).toString("hex")
  let { child, listening } = await startProcess(dataDir, token, 0)
  const port = listening.port

  const get = (pathAndQuery: string) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: pathAndQuery, headers: { authorization: `Bearer ${token}` }, agent: false },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8")
            resolve({ status: res.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) })
          })
        }
      )
      req.on("error", reject)
      req.end()
    })

  const kill = async () => {
    child.kill("SIGKILL")
    await exited(child)
  }

  return {
    dataDir,
    token,
    listening: () => listening,
    wsUrl: () => `ws://127.0.0.1:${port}/ws`,
    socketPath: () => listening.socket ?? path.join(dataDir, "server.sock"),
    get,
    kill,
    restart: async () => {
      const next = await startProcess(dataDir, token, port)
      child = next.child
      listening = next.listening
      return listening
    },
    cleanup: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
        await exited(child)
        clearTimeout(timer)
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** One server for the whole test file: started before its tests, cleaned up after; `set` receives it. */
export const useServerPerFile = (set: (server: ServerProcess) => void): void => {
  let server: ServerProcess | undefined
  beforeAll(async () => {
    server = await startServer()
    set(server)
  }, 60_000)
  afterAll(async () => {
    await server?.cleanup()
  }, 60_000)
}
