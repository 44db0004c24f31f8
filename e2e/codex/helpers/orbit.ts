/**
 * OrbitDock with the real Codex connector, for end-to-end tests: the real server (`startTestServer`
 * from the server's test helpers: SQLite log, registry, WebSocket transport on 127.0.0.1) with
 * `makeCodexConnector` pointed at the pinned native binary and a scratch CODEX_HOME whose model is the
 * mock. Also a small session driver over one WebSocket client, and process helpers.
 */
import type { ServerMessage } from "@orbitdock/domain"
import * as fs from "node:fs"
import * as path from "node:path"
import { makeCodexConnector } from "../../../packages/server/src/connectors/codex/CodexConnector.js"
import { startTestServer, type TestClient, type TestServer } from "../../../packages/server/test/helpers/testServer.js"
import type { CodexEnv } from "./codexEnv.js"
import { nativeCodexBin } from "./codexEnv.js"

export type { TestClient, TestServer }

export interface OrbitOptions {
  readonly codex: CodexEnv
  /** Reuse a data dir (restart on the same database). */
  readonly dataDir?: string
  readonly bin?: string | null
  readonly watchRollouts?: boolean
}

/** The server's environment as the connector passes it to codex: ours plus the scratch CODEX_HOME. */
export const orbitEnv = (codex: CodexEnv): Record<string, string | undefined> => ({ ...process.env, ...codex.env })

export const startOrbit = (options: OrbitOptions): Promise<TestServer> => {
  const dataDir = options.dataDir ?? path.join(options.codex.root, "orbitdock")
  fs.mkdirSync(dataDir, { recursive: true })
  return startTestServer({
    dataDir,
    config: { socketPath: null },
    connectors: [
      makeCodexConnector({
        bin: options.bin === undefined ? nativeCodexBin() : options.bin,
        env: orbitEnv(options.codex),
        watchRollouts: options.watchRollouts ?? false,
        requestTimeoutMs: 30_000
      })
    ]
  })
}

type Msg = ServerMessage & Record<string, any>

/** One session as a test drives it over a WebSocket client. */
export interface Driven {
  readonly id: string
  readonly client: TestClient
  /** Waits for the next message of this session matching `predicate`. */
  readonly next: (predicate: (m: Msg) => boolean, timeoutMs?: number) => Promise<Msg>
  /** Waits until the session's status becomes `status`. */
  readonly status: (status: string, timeoutMs?: number) => Promise<Msg>
  /** Sends a message (later waits see only what follows it) and returns the ack. */
  readonly send: (content: string) => Promise<Msg>
  /** Sends a command for this session (later waits see only what follows it); ack or error. */
  readonly command: (message: Record<string, unknown>) => Promise<Msg>
  /** The session's messages of this client, in order. */
  readonly messages: () => ReadonlyArray<Msg>
}

export const ack = (answer: Msg): Msg => {
  if (answer.type !== "ack") throw new Error(`expected an ack, got ${JSON.stringify(answer)}`)
  return answer
}

/** Creates a codex session and subscribes to it from revision 0 (every message from `session_created`). */
export const createSession = async (
  server: TestServer,
  fields: { readonly cwd: string; readonly prompt?: string; readonly approval_policy?: string; readonly sandbox?: string },
  client?: TestClient
): Promise<Driven> => {
  const c = client ?? (await server.connect())
  const created = ack(
    (await c.request({ type: "create_session", provider: "codex", sandbox: "danger-full-access", ...fields }, 30_000)) as Msg
  )
  return drive(c, created.session_id as string, 0)
}

/** Subscribes `client` to an existing session (from `since`, default: a snapshot). */
export const drive = async (client: TestClient, id: string, since?: number): Promise<Driven> => {
  ack((await client.request({ type: "subscribe_session", session_id: id, ...(since === undefined ? {} : { since_revision: since }) })) as Msg)
  const mine = (m: Msg) => m.session_id === id && m.type !== "ack" && m.type !== "error"
  // Our own cursor over the client's messages: `client.next` shares one cursor with `request`,
  // which would skip the session messages that arrive before an ack.
  let cursor = 0
  const next = (predicate: (m: Msg) => boolean, timeoutMs = 20_000) =>
    new Promise<Msg>((resolve, reject) => {
      const check = () => {
        while (cursor < client.messages.length) {
          const m = client.messages[cursor++] as Msg
          if (mine(m) && predicate(m)) {
            stop()
            resolve(m)
            return
          }
        }
      }
      const timer = setTimeout(() => {
        stop()
        const seen = client.messages.filter((m) => mine(m as Msg)).slice(-4)
        reject(new Error(`timed out after ${timeoutMs} ms; last messages: ${JSON.stringify(seen)}`))
      }, timeoutMs)
      const stop = () => {
        clearTimeout(timer)
        client.ws.off("message", check)
      }
      client.ws.on("message", check)
      check()
    })
  return {
    id,
    client,
    next,
    status: (status, timeoutMs) =>
      next(
        (m) =>
          (m.type === "session_delta" && m.changes.status === status) ||
          (m.type === "session_snapshot" && m.session.status === status),
        timeoutMs
      ),
    // A command's effects arrive after it is sent: later waits start from there.
    send: async (content) => {
      cursor = client.messages.length
      return ack((await client.request({ type: "send_message", session_id: id, content }, 30_000)) as Msg)
    },
    command: async (message) => {
      cursor = client.messages.length
      return (await client.request({ session_id: id, ...message }, 30_000)) as Msg
    },
    messages: () => client.messages.filter((m) => mine(m as Msg)) as Array<Msg>
  }
}

/** The live state over HTTP (the same state the WebSocket serves). */
export const stateOf = async (server: TestServer, id: string): Promise<any> => {
  const answer = await server.request(`/api/sessions/${id}`)
  if (answer.status !== 200) throw new Error(`GET session ${id}: ${answer.status} ${answer.text}`)
  return answer.body
}

/** Pids of the running children of `parent` whose executable is `exe` (read from /proc). */
export const childPids = (parent: number, exe: string): Array<number> => {
  const found: Array<number> = []
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      if (ppid !== parent) continue
      if (fs.realpathSync(`/proc/${entry}/exe`) === fs.realpathSync(exe)) found.push(Number(entry))
    } catch {
      // the process went away meanwhile
    }
  }
  return found
}

/** Polls `condition` (for external processes, which cannot signal us) until true or `timeoutMs`. */
export const waitUntil = async (condition: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Waits for a message (any session, any time since the client connected) matching `predicate`. */
export const waitMessage = (client: TestClient, predicate: (m: Msg) => boolean, timeoutMs = 20_000): Promise<Msg> =>
  new Promise<Msg>((resolve, reject) => {
    let cursor = 0
    const check = () => {
      while (cursor < client.messages.length) {
        const m = client.messages[cursor++] as Msg
        if (predicate(m)) {
          stop()
          resolve(m)
          return
        }
      }
    }
    const timer = setTimeout(() => {
      stop()
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a message`))
    }, timeoutMs)
    const stop = () => {
      clearTimeout(timer)
      client.ws.off("message", check)
    }
    client.ws.on("message", check)
    check()
  })
