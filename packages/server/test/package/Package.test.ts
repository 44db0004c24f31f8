/**
 * `npm run package`'s two artifacts, each run the way a person would get it: from a scratch
 * directory with an empty HOME and no network. The tarball is installed with
 * `npm install -g --offline` into a scratch prefix; the single executable runs with nothing on PATH.
 * Each serves: `/health`, a sim turn over the WebSocket, the web page at `/`.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import WebSocket from "ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Launched, launchServer, requestJson } from "@orbitdock/test-kit"

const root = path.resolve(import.meta.dirname, "../../../..")
const { version } = JSON.parse(fs.readFileSync(path.join(root, "packages/server/package.json"), "utf8"))
const release = path.join(root, "release")
const tarball = path.join(release, `orbitdock-${version}.tgz`)
const executable = path.join(release, `orbitdock-${version}-${process.platform}-${process.arch}`)

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-package-"))
const launched: Array<Launched> = []

beforeAll(() => {
  execFileSync(process.execPath, [path.join(root, "packages/server/scripts/package.mjs")], { stdio: ["ignore", "ignore", "pipe"], cwd: root })
}, 240_000)
afterAll(async () => {
  for (const server of launched) await server.stop("SIGKILL")
  fs.rmSync(scratch, { recursive: true, force: true })
})

/** A scratch dir with an empty HOME inside it. */
const emptyPlace = (name: string) => {
  const dir = path.join(scratch, name)
  fs.mkdirSync(path.join(dir, "home"), { recursive: true })
  return dir
}

/** Serves from `command`, then checks /health, a sim turn and the page. */
const exercise = async (command: ReadonlyArray<string>, dir: string, env: NodeJS.ProcessEnv) => {
  const dataDir = path.join(dir, "data")
  const server = await launchServer({ command, dataDir, cwd: dir, env, timeoutMs: 60_000 })
  launched.push(server)

  const health = await requestJson(server, "/health")
  expect(health.body).toMatchObject({ status: "ok", version })

  const ws = new WebSocket(`ws://127.0.0.1:${server.listening.port}/ws`, ["orbitdock.v1.json"], {
    headers: { authorization: `Bearer ${server.token}` }
  })
  await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)))
  const answers = new Map<string, (m: any) => void>()
  ws.on("message", (data) => {
    const m = JSON.parse(String(data))
    answers.get(m.id)?.(m)
  })
  const request = (id: string, message: object) =>
    new Promise<any>((resolve) => {
      answers.set(id, resolve)
      ws.send(JSON.stringify({ ...message, id }))
    })
  const created = await request("c", { type: "create_session", provider: "sim", cwd: dir })
  expect(created.type).toBe("ack")
  expect((await request("s", { type: "send_message", session_id: created.session_id, content: "hello from a scratch dir" })).type).toBe("ack")
  let state: any
  for (let i = 0; i < 200; i++) {
    state = (await requestJson(server, `/api/sessions/${created.session_id}`)).body
    if (state.status === "waiting" && state.messages.some((m: any) => m.role === "assistant")) break
    await new Promise((r) => setTimeout(r, 50))
  }
  expect(state.messages.map((m: any) => m.role)).toEqual(expect.arrayContaining(["user", "assistant"]))
  ws.close()

  const page = await fetch(`http://127.0.0.1:${server.listening.port}/`)
  expect(page.status).toBe(200)
  expect(await page.text()).toContain("<title>OrbitDock")

  // Stopped cleanly, the log holds the turn: the writer worker and SQLite addon ran from the package.
  await server.stop("SIGTERM")
  expect(server.child.exitCode).toBe(0)
  return dataDir
}

describe("npm run package", () => {
  it("the tarball installs offline with npm install -g and serves", async () => {
    const dir = emptyPlace("tarball")
    const prefix = path.join(dir, "prefix")
    const env = {
      HOME: path.join(dir, "home"),
      PATH: `${path.join(prefix, "bin")}:${path.dirname(process.execPath)}:/usr/bin:/bin`,
      npm_config_cache: path.join(dir, "npm-cache")
    }
    const install = spawnSync("npm", ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, tarball], {
      cwd: dir,
      env,
      encoding: "utf8"
    })
    expect(install.stderr).not.toMatch(/ERR!/)
    expect(install.status).toBe(0)
    const bin = path.join(prefix, "bin", "orbitdock")
    expect(spawnSync(bin, ["--version"], { env, encoding: "utf8" }).stdout.trim()).toBe(version)
    // The installed package holds only what it runs: no node_modules, no sources.
    expect(fs.existsSync(path.join(prefix, "lib", "node_modules", "orbitdock", "node_modules"))).toBe(false)
    await exercise([bin], dir, env)
  }, 120_000)

  it("the single executable serves with nothing on PATH, unpacking once into its cache", async () => {
    const dir = emptyPlace("executable")
    const env = { HOME: path.join(dir, "home"), PATH: "/nonexistent" }
    await exercise([executable], dir, env)
    const cache = path.join(dir, "home", ".cache", "orbitdock")
    const [unpacked] = fs.readdirSync(cache)
    expect(unpacked).toMatch(new RegExp(`^${version.replace(/\./g, "\\.")}-[0-9a-f]{16}$`))
    expect(fs.statSync(path.join(cache, unpacked!)).mode & 0o777).toBe(0o700)
    // A second start runs from the same unpacked files.
    const again = spawnSync(executable, ["--version"], { env, encoding: "utf8", cwd: dir })
    expect(again.stdout.trim()).toBe(version)
    expect(fs.readdirSync(cache)).toEqual([unpacked])
  }, 120_000)
})
