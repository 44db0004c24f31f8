/**
 * The real `orbitdock serve` as a child process (`@orbitdock/test-kit`), for tests that must kill it
 * (SIGKILL) and start it again on the same data directory, with HTTP and WebSocket clients like
 * `testServer.ts`'s.
 */
import { JSON_SUBPROTOCOL, MSGPACK_SUBPROTOCOL, type StoredEvent } from "@orbitdock/domain"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { launchServer, requestJson, serverBins } from "@orbitdock/test-kit"
import { makeClient, type TestClient } from "./testServer.js"

export const binPath = serverBins.dist

export interface ServerProcess {
  readonly child: ChildProcess
  readonly port: number
  readonly serverId: string
  readonly token: string
  readonly socketPath: string
  /** GET (or other method) a JSON resource over TCP with the token. */
  readonly http: (pathAndQuery: string, init?: { method?: string; body?: string }) => Promise<{ status: number; body: any }>
  readonly connect: (protocol?: "json" | "msgpack") => Promise<TestClient>
  /** Sends a signal and waits for the process to exit. */
  readonly kill: (signal: NodeJS.Signals) => Promise<void>
  /** Everything the process wrote to stderr so far. */
  readonly stderr: () => string
}

/** Starts `orbitdock serve --port 0` on `dataDir`, with `env` over this process's; resolves once it listens. */
export const startServerProcess = async (
  dataDir: string,
  extraArgs: ReadonlyArray<string> = [],
  env: Readonly<Record<string, string>> = {}
): Promise<ServerProcess> => {
  const server = await launchServer({ dataDir, args: extraArgs, env: { ...process.env, ...env } })
  const { listening, token } = server
  const clients = new Set<TestClient>()
  return {
    child: server.child,
    port: listening.port,
    serverId: listening.server_id,
    token,
    socketPath: listening.socket ?? "",
    http: (pathAndQuery, init) => requestJson(server, pathAndQuery, init),
    connect: (protocol = "json") =>
      new Promise((done, fail) => {
        const ws = new WebSocket(
          `ws://127.0.0.1:${listening.port}/ws`,
          [protocol === "json" ? JSON_SUBPROTOCOL : MSGPACK_SUBPROTOCOL],
          { headers: { authorization: `Bearer ${token}` }, maxPayload: 256 * 1024 * 1024 }
        )
        const client = makeClient(ws, protocol === "msgpack")
        ws.once("open", () => {
          clients.add(client)
          done(client)
        })
        ws.once("error", fail)
      }),
    kill: async (signal) => {
      for (const c of clients) c.ws.terminate()
      await server.stop(signal)
    },
    stderr: server.stderr
  }
}

/**
 * The server processes and data dirs of one test file: `start` and `dataDir` record them,
 * `stopAll` (its `afterEach`) SIGKILLs every process and removes every dir.
 */
export const serverKeeper = () => {
  const servers: Array<ServerProcess> = []
  const dirs: Array<string> = []
  return {
    start: async (dataDir: string, extraArgs: ReadonlyArray<string> = [], env: Readonly<Record<string, string>> = {}) => {
      const server = await startServerProcess(dataDir, extraArgs, env)
      servers.push(server)
      return server
    },
    dataDir: (prefix: string): string => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
      dirs.push(dir)
      return dir
    },
    stopAll: async (): Promise<void> => {
      await Promise.all(servers.splice(0).map((s) => s.kill("SIGKILL")))
      for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Every event of a session through `GET /api/sessions/:id/events`, page by page, as stored events. */
export const allEvents = async (server: ServerProcess, id: string): Promise<Array<StoredEvent>> => {
  const events: Array<StoredEvent> = []
  let after = 0
  for (;;) {
    const { status, body } = await server.http(`/api/sessions/${id}/events?after=${after}&limit=10000`)
    if (status !== 200) throw new Error(`GET /api/sessions/${id}/events: ${status}`)
    for (const e of body.events) {
      events.push({ session_id: id as never, revision: e.revision, occurred_at: e.occurred_at, event: { type: e.type, ...e.data } })
    }
    if (body.next_after === null) return events
    after = body.next_after
  }
}
