/**
 * The one launcher of the real `orbitdock serve` as a child process, for every suite that needs a
 * server it can kill and start again (the server's tests, the SDK's, the e2e suites) and for the
 * bench: the built CLI (`dist/bin.js`, or the bundle `npm start` runs), an installed package or
 * the single executable, on a data dir and a port (0: a free one). It resolves once the server
 * prints its `listening` line, never after a fixed time, and reads the token from the data dir, as
 * a user's client does (or from `ORBITDOCK_TOKEN` when the environment given sets it).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import * as readline from "node:readline"

// From this package's `src/` (tests) and `dist/` (the bench) alike.
const dist = path.resolve(import.meta.dirname, "../../server/dist")

/** The CLI builds a test may start: the compiled modules, or the bundle `npm start` runs. */
export const serverBins = { dist: path.join(dist, "bin.js"), bundle: path.join(dist, "bundle", "bin.js") } as const

export interface LaunchOptions {
  readonly dataDir: string
  /** More `serve` options (`--port`, `--data-dir` and `--log-level warn` are given). */
  readonly args?: ReadonlyArray<string>
  /** The server's whole environment; default: this process's without `ORBITDOCK_TOKEN`. */
  readonly env?: NodeJS.ProcessEnv
  /** Default "dist". */
  readonly entry?: keyof typeof serverBins
  /** Node options for `entry` (e.g. `--single-threaded-gc`, `--cpu-prof`); not with `command`. */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Called with the child's pid as soon as it exists, before it can do anything (e.g. to put it under a CPU quota). */
  readonly onSpawn?: (pid: number) => void
  /** Another `orbitdock` to run (program and leading arguments: an installed package, the single executable); replaces `entry`. */
  readonly command?: ReadonlyArray<string>
  /** The working directory; default this process's. */
  readonly cwd?: string
  /** Default 0: a free port. The same port again restarts a server where its clients reconnect. */
  readonly port?: number
  /** How long it may take to listen; default 20 s. */
  readonly timeoutMs?: number
}

/** The line `serve` prints once it listens. */
export interface Listening {
  readonly url: string
  readonly port: number
  readonly socket: string | null
  readonly server_id: string
  readonly pid: number
}

export interface Launched {
  readonly child: ChildProcess
  readonly listening: Listening
  readonly token: string
  /** Everything the process wrote to stderr so far. */
  readonly stderr: () => string
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>
  /** Sends `signal` (default SIGKILL) unless it already exited, and waits for the exit. */
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
}

const withoutToken = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const { ORBITDOCK_TOKEN: _token, ...rest } = env
  return rest
}

export const launchServer = (options: LaunchOptions): Promise<Launched> =>
  new Promise((resolve, reject) => {
    const [program, ...leading] = options.command ?? [process.execPath, ...(options.nodeArgs ?? []), serverBins[options.entry ?? "dist"]]
    const child = spawn(
      program!,
      [
        ...leading,
        "serve",
        "--port",
        String(options.port ?? 0),
        "--data-dir",
        options.dataDir,
        "--log-level",
        "warn",
        ...(options.args ?? [])
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: options.env ?? withoutToken(process.env), ...(options.cwd === undefined ? {} : { cwd: options.cwd }) }
    )
    if (child.pid !== undefined) options.onSpawn?.(child.pid)
    let stderr = ""
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) done()
      else child.once("exit", () => done())
    })
    const timeoutMs = options.timeoutMs ?? 20_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`the server did not listen within ${timeoutMs} ms; stderr:\n${stderr}`))
    }, timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code ?? signal}) before listening; stderr:\n${stderr}`))
    })
    // Read to the end: a pipe nobody reads would block the server once full.
    let listened = false
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      if (listened || !line.startsWith("{") || !line.includes('"listening"')) return
      listened = true
      clearTimeout(timer)
      const listening = JSON.parse(line) as Listening
      const token = options.env?.ORBITDOCK_TOKEN?.trim() || fs.readFileSync(path.join(options.dataDir, "token"), "utf8").trim()
      resolve({
        child,
        listening,
        token,
        stderr: () => stderr,
        exited,
        stop: async (signal = "SIGKILL") => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal)
          await exited
        }
      })
    })
  })

/** A request over TCP to a launched server with its token; the status and the JSON body (undefined when empty). */
export const requestJson = (
  server: Pick<Launched, "listening" | "token">,
  pathAndQuery: string,
  init: { readonly method?: string; readonly body?: string } = {}
): Promise<{ status: number; body: any }> =>
  new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port: server.listening.port,
        path: pathAndQuery,
        method: init.method ?? "GET",
        headers: { authorization: `Bearer ${server.token}` },
        agent: false
      },
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
    req.end(init.body)
  })
