/**
 * Clients that bring the server along (Node): `ensureServer` finds the OrbitDock server of a data
 * directory, or starts one (`orbitdock serve`, detached: it outlives the client) and waits until
 * it answers on its Unix socket. A server it started is watched: when it fails (a non-zero exit, a
 * signal other than SIGTERM/SIGINT) it is started again after a growing delay, unless another
 * server took its place meanwhile; a clean stop is left alone.
 *
 * The Unix socket is how it tells: it sits in the private data directory, needs no token, and only
 * a live server answers on it (a stale `server.json` or a port someone else took cannot fool it).
 */
import { Data, Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as Backoff from "./Backoff.js"

export interface EnsureServerOptions {
  /** Default: `ORBITDOCK_DATA_DIR`, else `~/.orbitdock` (the server's own default). */
  readonly dataDir?: string
  /** How to run `orbitdock` (program and leading arguments); default `["orbitdock"]` from PATH. */
  readonly command?: ReadonlyArray<string>
  /** More `serve` options (`--data-dir` is given). */
  readonly serveArgs?: ReadonlyArray<string>
  /** How long a started server has to answer (ms, default 30000). */
  readonly startTimeoutMs?: number
  /** Delays between restarts of a failed server (default 500 ms growing to 30 s), or `false`: never restart. */
  readonly restart?: Partial<Backoff.BackoffOptions> | false
  /** What happens to the server, for logs and status displays. */
  readonly onEvent?: (event: ServerEvent) => void
}

export type ServerEvent =
  | { readonly type: "found"; readonly socketPath: string }
  | { readonly type: "started"; readonly pid: number }
  | { readonly type: "exited"; readonly pid: number; readonly code: number | null; readonly signal: string | null }
  | { readonly type: "restarting"; readonly inMs: number; readonly attempt: number }
  | { readonly type: "restart-failed"; readonly error: string }

export interface ManagedServer {
  readonly dataDir: string
  /** The server's Unix socket: pass it as `socketPath` to a client (no token needed). */
  readonly socketPath: string
  /** Whether this call started the server (false: one was already running). */
  readonly started: boolean
  /** The pid of the server this manager runs now; null when it found one running. */
  readonly pid: () => number | null
  /** Stops watching; the server keeps running. */
  readonly close: () => Promise<void>
  /** Stops watching and stops the server this manager started (SIGTERM: it commits what is queued). */
  readonly stop: () => Promise<void>
}

/** The server did not come up; `message` says why, with what it printed. */
export class ServerStartError extends Data.TaggedError("ServerStartError")<{ readonly message: string }> {}

export const defaultDataDir = (): string => process.env.ORBITDOCK_DATA_DIR ?? path.join(os.homedir(), ".orbitdock")

const restartDefaults: Backoff.BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.3 }

/** Whether a server answers `GET /health` on the socket. */
export const answers = (socketPath: string, timeoutMs = 2000): Promise<boolean> =>
  new Promise((resolve) => {
    const request = http.get({ socketPath, path: "/health", timeout: timeoutMs }, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.on("error", () => resolve(false))
    request.on("timeout", () => request.destroy(new Error("timeout")))
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The last lines of a file, for an error message. */
const tail = (file: string, lines = 15): string => {
  try {
    return fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return ""
  }
}

interface Child {
  readonly pid: number
  readonly exit: Promise<{ code: number | null; signal: string | null }>
  readonly kill: (signal: NodeJS.Signals) => void
}

/** Starts `orbitdock serve` detached, its stderr in `<data-dir>/logs/serve.stderr` (the server logs there too). */
const launch = (options: EnsureServerOptions, dataDir: string, stderrFile: string): Child => {
  const [program, ...leading] = options.command ?? ["orbitdock"]
  fs.mkdirSync(path.dirname(stderrFile), { recursive: true, mode: 0o700 })
  const fd = fs.openSync(stderrFile, "w", 0o600)
  try {
    const child = spawn(program!, [...leading, "serve", "--data-dir", dataDir, ...(options.serveArgs ?? [])], {
      detached: true,
      stdio: ["ignore", "ignore", fd]
    })
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once("error", (error) => {
        fs.appendFileSync(stderrFile, `cannot run ${program}: ${error.message}\n`)
        resolve({ code: 127, signal: null })
      })
      child.once("exit", (code, signal) => resolve({ code, signal }))
    })
    // The client may exit while the server runs on: nothing here keeps it alive.
    child.unref()
    return { pid: child.pid ?? -1, exit, kill: (signal) => child.kill(signal) }
  } finally {
    fs.closeSync(fd)
  }
}

/** Waits until the socket answers, or the child exits, or the time is up. */
const untilReady = async (socketPath: string, child: Child, timeoutMs: number, stderrFile: string): Promise<void> => {
  let exited: { code: number | null; signal: string | null } | null = null
  void child.exit.then((e) => (exited = e))
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await answers(socketPath, 1000)) return
    if (exited !== null) {
      const { code, signal } = exited
      const said = tail(stderrFile)
      throw new ServerStartError({
        message: `the server exited before it answered (${signal ?? `exit code ${code}`})${said === "" ? "" : `:\n${said}`}`
      })
    }
    await sleep(50)
  }
  child.kill("SIGTERM")
  throw new ServerStartError({ message: `the server did not answer on ${socketPath} within ${timeoutMs} ms; see ${stderrFile}` })
}

const failed = (exit: { code: number | null; signal: string | null }) =>
  exit.signal === null ? exit.code !== 0 : exit.signal !== "SIGTERM" && exit.signal !== "SIGINT"

/** Finds or starts the data directory's server (see the module's comment). */
export const ensureServer = async (options: EnsureServerOptions = {}): Promise<ManagedServer> => {
  const dataDir = path.resolve(options.dataDir ?? defaultDataDir())
  const socketPath = path.join(dataDir, "server.sock")
  const stderrFile = path.join(dataDir, "logs", "serve.stderr")
  const emit = (event: ServerEvent) => options.onEvent?.(event)
  if (await answers(socketPath)) {
    emit({ type: "found", socketPath })
    return { dataDir, socketPath, started: false, pid: () => null, close: async () => {}, stop: async () => {} }
  }
  const timeoutMs = options.startTimeoutMs ?? 30_000
  let child = launch(options, dataDir, stderrFile)
  await untilReady(socketPath, child, timeoutMs, stderrFile)
  emit({ type: "started", pid: child.pid })

  let closed = false
  let stopping = false
  const backoff = options.restart === false ? null : { ...restartDefaults, ...options.restart }
  const watch = async (): Promise<void> => {
    for (let attempt = 0; ; ) {
      const exit = await child.exit
      emit({ type: "exited", pid: child.pid, code: exit.code, signal: exit.signal })
      if (closed || stopping || backoff === null || !failed(exit)) return
      for (;;) {
        const inMs = Backoff.delay(backoff, attempt++, Math.random())
        emit({ type: "restarting", inMs, attempt })
        await sleep(inMs)
        if (closed) return
        // Someone else (a service, another client) brought one up meanwhile: it is theirs.
        if (await answers(socketPath)) return emit({ type: "found", socketPath })
        child = launch(options, dataDir, stderrFile)
        try {
          await untilReady(socketPath, child, timeoutMs, stderrFile)
          emit({ type: "started", pid: child.pid })
          attempt = 0
          break
        } catch (error) {
          emit({ type: "restart-failed", error: (error as Error).message })
        }
      }
    }
  }
  const watching = watch()
  return {
    dataDir,
    socketPath,
    started: true,
    pid: () => (closed ? null : child.pid),
    close: async () => {
      closed = true
    },
    stop: async () => {
      stopping = true
      child.kill("SIGTERM")
      await child.exit
      closed = true
      await watching
    }
  }
}

/** The Effect face: the manager for the scope's life; closing the scope stops watching (the server keeps running). */
export const ensure = (options: EnsureServerOptions = {}): Effect.Effect<ManagedServer, ServerStartError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => ensureServer(options),
      catch: (error) => (error instanceof ServerStartError ? error : new ServerStartError({ message: String(error) }))
    }),
    (server) => Effect.promise(() => server.close())
  )
