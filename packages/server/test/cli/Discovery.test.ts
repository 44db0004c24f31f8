/**
 * A `server.json` left behind by a crash never sends the token anywhere: the client commands trust it
 * only while its pid is alive with the start time it recorded, and send the token to its URL only
 * after that URL's `/health` answered the recorded `server_id`. A stale one is ignored with a
 * message saying why.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as Discovery from "../../src/cli/Discovery.js"
import { getJson, resolveEndpoint } from "../../src/cli/ServerClient.js"
import { startServerProcess } from "../helpers/serverProcess.js"

const bundle = path.resolve(import.meta.dirname, "../../dist/bundle/bin.js")

const dirs: Array<string> = []
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})
const tempDataDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-discovery-"))
  dirs.push(dir)
  return dir
}

const TOKEN = "c".repeat(64)

/** A data dir with a token and this `server.json` (no socket). */
const dataDirWith = (file: Partial<Discovery.ServerFile>) => {
  const dataDir = tempDataDir()
  fs.writeFileSync(path.join(dataDir, "token"), `${TOKEN}\n`, { mode: 0o600 })
  Discovery.writeServerFile(dataDir, {
    url: "http://127.0.0.1:1",
    port: 1,
    socket: null,
    pid: process.pid,
    pid_start: Discovery.processStartTime(process.pid),
    server_id: "srv_recorded",
    version: "0.1.0",
    ...file
  })
  return dataDir
}

/** An HTTP server on a free port that records every request and answers `/health` like OrbitDock, with another server_id. */
const squatter = async () => {
  const requests: Array<{ url: string; authorization: string | undefined }> = []
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? "", authorization: req.headers.authorization })
    res.setHeader("content-type", "application/json")
    res.end(
      JSON.stringify({ status: "ok", version: "0.1.0", protocol: 1, server_id: "srv_squatter", uptime_s: 1, sessions: 0, connections: 0 })
    )
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}`, port, requests, close: () => new Promise<void>((r) => server.close(() => r())) }
}

const resolve = (dataDir: string) => Effect.runPromiseExit(resolveEndpoint({ dataDir, url: null, token: null }))

const errorOf = (exit: Exit.Exit<unknown, { message: string }>) => (Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error.message : "")

describe("server.json", () => {
  it("records the process's start time, which tells a recycled pid apart", async () => {
    const mine = Discovery.processStartTime(process.pid)
    expect(mine).not.toBeNull()
    expect(Discovery.processStartTime(process.pid)).toBe(mine)
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
    await new Promise((r) => child.once("spawn", r))
    const theirs = Discovery.processStartTime(child.pid!)
    expect(theirs).not.toBeNull()
    child.kill("SIGKILL")
    await new Promise((r) => child.once("exit", r))
    expect(Discovery.processStartTime(child.pid!)).toBeNull()
  })

  it("is stale when its pid is gone", async () => {
    const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" })
    await new Promise((r) => child.once("exit", r))
    const dataDir = dataDirWith({ pid: child.pid! })
    expect(Discovery.discover(dataDir)).toMatchObject({ _tag: "Stale", reason: `its server (pid ${child.pid}) is gone` })
    expect(errorOf(await resolve(dataDir))).toContain(`no OrbitDock server is running on ${dataDir}`)
  })

  it("is stale when its pid now belongs to a process that started at another time", () => {
    const dataDir = dataDirWith({ pid_start: "00000000-0000-0000-0000-000000000000:1" })
    expect(Discovery.discover(dataDir)).toMatchObject({ _tag: "Stale", reason: `pid ${process.pid} is now another process` })
  })

  it("never sends the token to a port that answers with another server_id", async () => {
    const squat = await squatter()
    try {
      // The pid check passes (this process, its real start time): only /health can tell.
      const dataDir = dataDirWith({ url: squat.url, port: squat.port })
      expect(Discovery.discover(dataDir)._tag).toBe("Running")
      expect(await Effect.runPromise(Discovery.discoverVerified(dataDir))).toMatchObject({
        _tag: "Stale",
        reason: `another server answers at ${squat.url} (server_id srv_squatter)`
      })
      expect(errorOf(await resolve(dataDir))).toContain("no OrbitDock server is running")
      expect(squat.requests.length).toBeGreaterThan(0)
      for (const request of squat.requests) {
        expect(request.authorization).toBeUndefined()
        expect(request.url).toBe("/health")
      }
    } finally {
      await squat.close()
    }
  })

  it("`orbitdock sessions` against such a file: the squatter sees no token, the user a clear message", async () => {
    const squat = await squatter()
    try {
      const dataDir = dataDirWith({ url: squat.url, port: squat.port })
      const { ORBITDOCK_TOKEN: _t, ...env } = process.env
      // Not spawnSync: the squatter answers from this process.
      const answer = await new Promise<{ status: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, [bundle, "sessions", "--data-dir", dataDir], { env, stdio: ["ignore", "ignore", "pipe"] })
        let stderr = ""
        child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()))
        child.once("close", (status) => done({ status, stderr }))
      })
      expect(answer.status).toBe(1)
      expect(answer.stderr).toContain(`ignoring ${Discovery.serverFilePath(dataDir)}`)
      expect(answer.stderr).toContain(`another server answers at ${squat.url}`)
      expect(squat.requests.map((r) => r.authorization ?? null)).not.toContain(`Bearer ${TOKEN}`)
      expect(JSON.stringify(squat.requests)).not.toContain(TOKEN)
    } finally {
      await squat.close()
    }
  })

  it("a server killed with SIGKILL leaves a file that no client trusts, even once another process owns its port", async () => {
    const dataDir = tempDataDir()
    const server = await startServerProcess(dataDir, ["--socket", "none"])
    // While it runs: found through server.json over TCP, verified, with the token.
    const endpoint = await Effect.runPromise(resolveEndpoint({ dataDir, url: null, token: null }))
    expect(endpoint).toEqual({ socketPath: null, baseUrl: `http://127.0.0.1:${server.port}`, token: server.token })
    expect(await Effect.runPromise(getJson(endpoint, "/api/sessions"))).toEqual([])
    await server.kill("SIGKILL")
    expect(fs.existsSync(Discovery.serverFilePath(dataDir))).toBe(true)
    const squat = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? "")
      res.end("{}")
    })
    const seen: Array<string> = []
    await new Promise<void>((r) => squat.listen(server.port, "127.0.0.1", r))
    try {
      expect(Discovery.discover(dataDir)).toMatchObject({ _tag: "Stale", reason: `its server (pid ${server.child.pid}) is gone` })
      expect(errorOf(await resolve(dataDir))).toContain("no OrbitDock server is running")
      expect(seen).toEqual([])
    } finally {
      await new Promise<void>((r) => squat.close(() => r()))
    }
  }, 30_000)
})
