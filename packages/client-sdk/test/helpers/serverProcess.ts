/**
 * The real OrbitDock server as a child process (the server's own test kit, `launchServer`), for SDK
 * tests that need real sockets, a real SQLite log and real crashes (SIGKILL). Waits for the
 * `listening` line the server prints, never for a fixed time.
 */
import { afterAll, beforeAll } from "vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { launchServer, type Launched, type Listening, requestJson } from "@orbitdock/test-kit"

export type { Listening }

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

const startProcess = (dataDir: string, port: number): Promise<Launched> =>
  launchServer({ dataDir, port, args: ["--flush-ms", "20"] })

/** Starts a server in a fresh temp data dir on a free port. */
export const startServer = async (): Promise<ServerProcess> => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-sdk-"))
  let server = await startProcess(dataDir, 0)
  const { token } = server
  const port = server.listening.port

  return {
    dataDir,
    token,
    listening: () => server.listening,
    wsUrl: () => `ws://127.0.0.1:${port}/ws`,
    socketPath: () => server.listening.socket ?? path.join(dataDir, "server.sock"),
    get: (pathAndQuery) => requestJson(server, pathAndQuery),
    kill: () => server.stop("SIGKILL"),
    restart: async () => {
      server = await startProcess(dataDir, port)
      return server.listening
    },
    cleanup: async () => {
      const timer = setTimeout(() => server.child.kill("SIGKILL"), 5_000)
      await server.stop("SIGTERM")
      clearTimeout(timer)
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
