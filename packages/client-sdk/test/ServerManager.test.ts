/**
 * `ensureServer`, with the real `orbitdock` command: it starts a server where none answers, finds
 * the one that runs, brings a crashed one back with its data, leaves a cleanly stopped one alone,
 * and says why a server that cannot start did not.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Client } from "../src/node.js"
import { ensureServer, type ManagedServer, type ServerEvent } from "../src/ServerManager.js"
import { serverBins } from "@orbitdock/test-kit"

const command = [process.execPath, serverBins.bundle]
const managed: Array<ManagedServer> = []
const dirs: Array<string> = []
const pids = new Set<number>()
afterEach(async () => {
  for (const server of managed.splice(0)) await server.close()
  // Every server a test started, by its pid (they are detached: nothing else stops them).
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // Already gone.
    }
  }
  pids.clear()
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const tempDataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-ensure-"))
  dirs.push(dir)
  return dir
}

/** Events as they come, with a way to wait for one. */
const recorder = () => {
  const events: Array<ServerEvent> = []
  const waiters: Array<{ test: (e: ServerEvent) => boolean; resolve: (e: ServerEvent) => void }> = []
  return {
    events,
    onEvent: (event: ServerEvent) => {
      events.push(event)
      if (event.type === "started") pids.add(event.pid)
      for (const w of [...waiters]) {
        if (w.test(event)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(event)
        }
      }
    },
    next: (test: (e: ServerEvent) => boolean) => new Promise<ServerEvent>((resolve) => waiters.push({ test, resolve }))
  }
}

const ensure = async (dataDir: string, onEvent: (e: ServerEvent) => void, extra: Partial<Parameters<typeof ensureServer>[0]> = {}) => {
  const server = await ensureServer({ dataDir, command, serveArgs: ["--port", "0"], restart: { initialMs: 200, maxMs: 1000 }, onEvent, ...extra })
  managed.push(server)
  return server
}

describe("ensureServer", () => {
  it("starts a server where none runs, finds it the next time, and a client works over its socket", async () => {
    const dataDir = tempDataDir()
    const record = recorder()
    const first = await ensure(dataDir, record.onEvent)
    expect(first.started).toBe(true)
    expect(first.socketPath).toBe(path.join(dataDir, "server.sock"))
    expect(record.events).toEqual([{ type: "started", pid: first.pid() }])

    const second = await ensure(dataDir, record.onEvent)
    expect(second.started).toBe(false)
    expect(record.events.at(-1)).toEqual({ type: "found", socketPath: first.socketPath })

    const client = await Client.connect({ socketPath: second.socketPath })
    const created = await client.createSession({ provider: "sim", cwd: "/work" })
    expect(created).toMatch(/^ses_/)
    await client.close()
  }, 30_000)

  it("brings a crashed server back with its data, and leaves one stopped cleanly alone", async () => {
    const dataDir = tempDataDir()
    const record = recorder()
    const server = await ensure(dataDir, record.onEvent)
    const firstPid = server.pid()!
    const client = await Client.connect({ socketPath: server.socketPath, reconnect: { initialMs: 50, maxMs: 200 }, queueWhileOffline: true })
    const sessionId = await client.createSession({ provider: "sim", cwd: "/work" })

    const restarted = record.next((e) => e.type === "started")
    process.kill(firstPid, "SIGKILL")
    const again = (await restarted) as { pid: number }
    expect(again.pid).not.toBe(firstPid)
    expect(record.events).toContainEqual({ type: "exited", pid: firstPid, code: null, signal: "SIGKILL" })
    expect(record.events.some((e) => e.type === "restarting")).toBe(true)
    expect(server.pid()).toBe(again.pid)
    // Same data dir, same log: the session is there, and the client reconnected to it by itself.
    await expect(client.sendMessage(sessionId, "still there?")).resolves.toBeUndefined()
    await client.close()

    const exited = record.next((e) => e.type === "exited")
    await server.stop()
    expect(await exited).toMatchObject({ pid: again.pid, code: 0, signal: null })
    await new Promise((r) => setTimeout(r, 600))
    expect(record.events.filter((e) => e.type === "started")).toHaveLength(2)
  }, 30_000)

  it("a server that cannot start: the error says why, from what it printed", async () => {
    const dataDir = tempDataDir()
    const db = new Database(path.join(dataDir, "orbitdock.db"))
    db.exec("CREATE TABLE events (x)")
    db.pragma("user_version = 999")
    db.close()
    const record = recorder()
    await expect(ensure(dataDir, record.onEvent)).rejects.toMatchObject({
      _tag: "ServerStartError",
      message: expect.stringContaining("was written by a newer OrbitDock (schema 999")
    })
    expect(record.events).toEqual([])

    await expect(ensure(dataDir, record.onEvent, { command: [path.join(dataDir, "no-such-orbitdock")] })).rejects.toMatchObject({
      message: expect.stringContaining("cannot run")
    })
  }, 30_000)
})
