/**
 * Helpers to run OrbitDock as a child process for the scenarios: the bench server (real layers and
 * a load generator on the real ConnectorHost) and WebSocket clients in another process.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { spawnProc, type Proc } from "./lib/proc.js"
import { Config, SERVER_NODE_FLAGS } from "./lib/server.js"
import { tempDir } from "./raw/sqliteAppend.js"

export interface OrbitServer {
  readonly proc: Proc
  readonly port: number
  readonly token: string
  readonly dataDir: string
  readonly wsUrl: string
  readonly stop: () => Promise<void>
}

export const startOrbit = async (options: { batchSize?: number; flushMs?: number; dataDir?: string; execArgv?: ReadonlyArray<string> } = {}): Promise<OrbitServer> => {
  const dataDir = options.dataDir ?? tempDir("orbit")
  const proc = await spawnProc(
    new URL("./procs/orbitServer.js", import.meta.url),
    [dataDir, String(options.batchSize ?? Config.DEFAULT_BATCH_SIZE), String(options.flushMs ?? Config.DEFAULT_FLUSH_MS)],
    // BENCH_PROFILE_DIR=<dir>: CPU profiles of the server's threads (written when it exits).
    // BENCH_SERVER_ARGS="--trace-gc-nvp …": more Node options for the server process.
    [
      "--expose-gc",
      // As `npm start` runs the server.
      ...SERVER_NODE_FLAGS,
      ...(process.env.BENCH_PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : []),
      ...(process.env.BENCH_SERVER_ARGS ?? "").split(" ").filter((arg) => arg !== ""),
      ...(options.execArgv ?? [])
    ],
    { underTest: true }
  )
  const port = proc.up.port as number
  const token = proc.up.token as string
  return {
    proc,
    port,
    token,
    dataDir,
    wsUrl: `ws://127.0.0.1:${port}/ws?token=${token}`,
    stop: async () => {
      if (process.env.BENCH_PROFILE_DIR) {
        // A normal exit, so that the profiles are written.
        const exited = new Promise((resolve) => proc.child.once("exit", resolve))
        proc.child.send({ type: "exit" })
        await exited
      }
      await proc.kill()
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** Asks the bench server to do something and fails loudly if it could not. */
export const ask = async <T = Record<string, number>>(server: OrbitServer, message: { type: string } & Record<string, unknown>, reply: string, timeoutMs = 300_000): Promise<T> => {
  const r = await server.proc.request<{ type: string; error?: string }>(message, [reply, "failed"], timeoutMs)
  if (r.type === "failed") throw new Error(`server ${message.type} failed: ${r.error}`)
  return r as T
}

export const sessionId = (i: number) => `load-${String(i).padStart(4, "0")}`
export { path }
