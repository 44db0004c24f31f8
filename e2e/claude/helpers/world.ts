/**
 * One isolated world per test: a temp root with `home/`, `tmp/`, `work/` and `data/`; the mock
 * Messages API; the real OrbitDock server (the bundle `npm start` runs, started by the server's
 * test kit) as a child process whose HOME is the isolated one (so it watches that HOME's `~/.claude`); the real `claude` CLI from
 * this package's node_modules with the same environment; and WebSocket clients.
 *
 * Isolation: only PATH/LANG/TERM/SHELL/USER/LOGNAME are inherited; HOME, TMPDIR,
 * CLAUDE_CODE_TMPDIR and XDG_RUNTIME_DIR point inside the temp root (without the last three the CLI
 * writes to the system /tmp).
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { launchServer } from "@orbitdock/test-kit"
import { type MockAnthropic, startMockAnthropic } from "./mockAnthropic.js"

export const repoRoot = path.resolve(import.meta.dirname, "../../..")
export const claudeBin = path.resolve(import.meta.dirname, "../node_modules/.bin/claude")

type Json = any

export interface World {
  readonly root: string
  readonly home: string
  readonly work: string
  readonly dataDir: string
  readonly env: Record<string, string>
  readonly mock: MockAnthropic
  readonly settingsPath: string
  /** Starts (or restarts) OrbitDock; `extraEnv` adds to the server's environment. */
  readonly startServer: (extraEnv?: Record<string, string>) => Promise<Server>
  /** Runs `claude -p <prompt> --output-format stream-json --verbose` like a user in a terminal. */
  readonly claude: (prompt: string, args?: ReadonlyArray<string>) => ClaudeRun
  readonly cleanup: () => Promise<void>
}

export interface ClaudeRun {
  readonly child: ChildProcess
  /** Resolves when the process exits, with its stream-json lines. */
  readonly done: Promise<{ code: number | null; lines: Array<Json>; stderr: string }>
}

export interface Server {
  /** The server process's pid (its driven `claude` processes are its children). */
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly token: string
  readonly socketPath: string
  readonly serverId: string
  readonly connect: () => Promise<Client>
  /** POST a raw body to /hook over TCP (with the token unless `auth: false`) or the Unix socket. */
  readonly postHook: (body: string, options?: { via?: "tcp" | "unix"; auth?: boolean }) => Promise<{ status: number; body: Json }>
  readonly get: (pathAndQuery: string) => Promise<{ status: number; body: Json }>
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
  readonly stderr: () => string
}

export interface Client {
  readonly messages: Array<Json>
  /** Waits for the next message (after those already waited for) that matches. */
  readonly next: (predicate: (m: Json) => boolean, timeoutMs?: number) => Promise<Json>
  /** Sends with a fresh id and waits for its ack or error. */
  readonly request: (message: Json, timeoutMs?: number) => Promise<Json>
  readonly close: () => void
}

let requestCounter = 0

const connectClient = (url: string, token: string): Promise<Client> =>
  new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws`, ["orbitdock.v1.json"], {
      headers: { authorization: `Bearer ${token}` }
    })
    const messages: Array<Json> = []
    const waiters = new Set<() => void>()
    let cursor = 0
    ws.on("message", (data: Buffer) => {
      const value = JSON.parse(data.toString("utf8"))
      if (Array.isArray(value)) messages.push(...value)
      else messages.push(value)
      for (const w of [...waiters]) w()
    })
    ws.on("error", () => undefined)
    const next = (predicate: (m: Json) => boolean, timeoutMs = 30_000) =>
      new Promise<Json>((done, fail) => {
        const check = () => {
          while (cursor < messages.length) {
            const m = messages[cursor++]
            if (predicate(m)) {
              finish()
              done(m)
              return
            }
          }
        }
        const timer = setTimeout(() => {
          finish()
          fail(new Error(`timed out after ${timeoutMs} ms; last messages: ${JSON.stringify(messages.slice(-4)).slice(0, 1500)}`))
        }, timeoutMs)
        const finish = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    /** Finds an answer anywhere in the history (acks may arrive before the caller waits). */
    const request = (message: Json, timeoutMs = 30_000) => {
      const id = `e2e-${++requestCounter}`
      ws.send(JSON.stringify({ ...message, id }))
      return new Promise<Json>((done, fail) => {
        const check = () => {
          const found = messages.find((m) => (m.type === "ack" || m.type === "error") && m.id === id)
          if (found !== undefined) {
            finish()
            done(found)
          }
        }
        const timer = setTimeout(() => {
          finish()
          fail(new Error(`no answer to ${message.type} in ${timeoutMs} ms`))
        }, timeoutMs)
        const finish = () => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    }
    ws.once("open", () => resolve({ messages, next, request, close: () => ws.terminate() }))
    ws.once("error", reject)
  })

const httpRequest = (
  target: { port: number } | { socketPath: string },
  method: string,
  pathAndQuery: string,
  headers: Record<string, string>,
  body?: string
) =>
  new Promise<{ status: number; body: Json }>((resolve, reject) => {
    const req = http.request(
      { ...("port" in target ? { host: "127.0.0.1", port: target.port } : { socketPath: target.socketPath }), method, path: pathAndQuery, headers, agent: false },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8")
          let parsed: Json = text
          try {
            parsed = text === "" ? undefined : JSON.parse(text)
          } catch {
            parsed = text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed })
        })
      }
    )
    req.on("error", reject)
    req.end(body)
  })

/** Creates the world (mock API started, no server yet). */
export const makeWorld = async (): Promise<World> => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-claude-e2e-"))
  const dirs = { home: path.join(root, "home"), tmp: path.join(root, "tmp"), work: path.join(root, "work"), dataDir: path.join(root, "data") }
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true })
  const mock = await startMockAnthropic()
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "C.UTF-8",
    TERM: "dumb",
    SHELL: "/bin/bash",
    USER: process.env.USER ?? "user",
    LOGNAME: process.env.LOGNAME ?? "user",
    HOME: dirs.home,
    ANTHROPIC_BASE_URL: mock.url,
    ANTHROPIC_API_KEY: "sk-ant-e2e-dummy",
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_AUTOUPDATER: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_BUG_COMMAND: "1",
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: "1",
    TMPDIR: dirs.tmp,
    CLAUDE_CODE_TMPDIR: dirs.tmp,
    XDG_RUNTIME_DIR: dirs.tmp
  }
  const children = new Set<ChildProcess>()
  const servers = new Set<Server>()

  const startServer = async (extraEnv: Record<string, string> = {}): Promise<Server> => {
    const launched = await launchServer({
      dataDir: dirs.dataDir,
      entry: "bundle",
      args: ["--claude-bin", claudeBin],
      env: { ...env, ...extraEnv }
    })
    children.add(launched.child)
    const { listening, token } = launched
    const clients: Array<Client> = []
    const server: Server = {
      pid: launched.child.pid!,
      port: listening.port,
      url: `http://127.0.0.1:${listening.port}`,
      token,
      socketPath: listening.socket ?? "",
      serverId: listening.server_id,
      connect: async () => {
        const c = await connectClient(`http://127.0.0.1:${listening.port}`, token)
        clients.push(c)
        return c
      },
      postHook: (body, options = {}) =>
        options.via === "unix"
          ? httpRequest({ socketPath: listening.socket ?? "" }, "POST", "/hook", { "content-type": "application/json" }, body)
          : httpRequest(
              { port: listening.port },
              "POST",
              "/hook",
              {
                host: `127.0.0.1:${listening.port}`,
                "content-type": "application/json",
                ...((options.auth ?? true) ? { authorization: `Bearer ${token}` } : {})
              },
              body
            ),
      get: (p) => httpRequest({ port: listening.port }, "GET", p, { host: `127.0.0.1:${listening.port}`, authorization: `Bearer ${token}` }),
      stop: async (signal = "SIGTERM") => {
        for (const c of clients) c.close()
        await launched.stop(signal)
        servers.delete(server)
      },
      stderr: launched.stderr
    }
    servers.add(server)
    return server
  }

  const claude = (prompt: string, args: ReadonlyArray<string> = []): ClaudeRun => {
    const child = spawn(claudeBin, ["-p", prompt, "--output-format", "stream-json", "--verbose", ...args], {
      cwd: dirs.work,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    children.add(child)
    let out = ""
    let stderr = ""
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()))
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()))
    const done = new Promise<{ code: number | null; lines: Array<Json>; stderr: string }>((resolve) =>
      child.once("close", (code) =>
        resolve({
          code,
          stderr,
          lines: out
            .split("\n")
            .filter((l) => l.trim().length > 0)
            .map((l) => {
              try {
                return JSON.parse(l)
              } catch {
                return { unparsed: l }
              }
            })
        })
      )
    )
    return { child, done }
  }

  return {
    root,
    home: dirs.home,
    work: dirs.work,
    dataDir: dirs.dataDir,
    env,
    mock,
    settingsPath: path.join(dirs.home, ".claude", "settings.json"),
    startServer,
    claude,
    cleanup: async () => {
      for (const s of [...servers]) await s.stop()
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
      await mock.close()
      if (process.env.KEEP_TMP !== "1") fs.rmSync(root, { recursive: true, force: true })
    }
  }
}

/**
 * Installs OrbitDock's hooks into the world's `~/.claude/settings.json` with the real CLI code:
 * over the server's Unix socket (the default, what a user gets), or as native http hooks;
 * `permissionTimeoutS`: how long Claude waits for a held permission prompt (default 120).
 */
export const installHooks = async (
  world: World,
  server: Server,
  transport: "unix" | "http" = "unix",
  permissionTimeoutS = 120
): Promise<{ changed: boolean; backup: string | null }> => {
  const hooks = await import(path.join(repoRoot, "packages/server/dist/cli/hooks.js"))
  const { Effect } = await import("effect")
  return Effect.runPromise(
    hooks.install({
      settingsPath: world.settingsPath,
      dataDir: world.dataDir,
      transport,
      url: transport === "http" ? server.url : null,
      token: null,
      permissionTimeoutS
    })
  )
}

/**
 * Returns once everything the server had appended before is on disk: a command is acked once
 * durable, and the log commits in order.
 */
export const durableBarrier = async (client: Client, world: World): Promise<void> => {
  const ack = await client.request({ type: "create_session", provider: "sim", cwd: world.work })
  if (ack.type !== "ack") throw new Error(`barrier command refused: ${JSON.stringify(ack)}`)
}

/** Pids of the running children of `parent` whose executable is `exe` (read from /proc). */
export const childPids = (parent: number, exe: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid === parent && fs.realpathSync(`/proc/${entry}/exe`) === fs.realpathSync(exe)) found.push(Number(entry))
    } catch {
      // the process went away meanwhile
    }
  }
  return found
}

/** Subscribes a client to a session and returns its snapshot. */
export const subscribe = async (client: Client, sessionId: string) => {
  const ack = await client.request({ type: "subscribe_session", session_id: sessionId })
  if (ack.type !== "ack") throw new Error(`subscribe failed: ${JSON.stringify(ack)}`)
  return ack
}

/** Folds session messages into a mirror (what a UI would show), from a snapshot onwards. */
export const mirror = (messages: ReadonlyArray<Json>, sessionId: string) => {
  let state: Json = null
  for (const m of messages) {
    if (m.session_id !== sessionId) continue
    switch (m.type) {
      case "session_snapshot":
        state = structuredClone(m.session)
        break
      case "message_appended":
        state?.messages.push(m.message)
        break
      case "message_updated": {
        const target = state?.messages.find((x: Json) => x.id === m.message_id)
        if (target) Object.assign(target, m.changes)
        break
      }
      case "session_delta":
        if (state) Object.assign(state, m.changes)
        break
      case "tokens_updated":
        if (state) state.token_usage = m.usage
        break
      case "approval_requested":
        if (state && state.pending_approval === null) state.pending_approval = m.request
        break
      case "session_ended":
        if (state) state.status = "ended"
        break
    }
  }
  return state
}
