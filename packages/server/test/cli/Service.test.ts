/**
 * `orbitdock service`: the systemd user unit it writes, checked with systemd's own
 * `systemd-analyze verify`, and its restart policy tested on the unit's own command line under a
 * supervisor that applies the unit's `Restart=`/`RestartSec=` (this machine runs no systemd user
 * manager). Installing twice changes nothing, uninstalling removes it, no token is on any line.
 * The launchd agent is checked as text (no launchd here).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { afterEach, describe, expect, it } from "vitest"
import { launchdPlist, specFor, systemdUnit } from "../../src/cli/Service.js"
import { bundle, cliEnv, runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"

const keeper = serverKeeper()
const children: Array<ChildProcess> = []
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  await keeper.stopAll()
})

/** A command without `--data-dir` (uninstall has none). */
const orbitdock = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>) =>
  spawnSync(process.execPath, [bundle, ...args], { env: cliEnv(env), encoding: "utf8" })

const systemdAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0

/** systemd's splitting of a command line: words, double quotes with backslash escapes, `%%` and `$$`. */
const execWords = (line: string): Array<string> => {
  const words: Array<string> = []
  const pattern = /"((?:[^"\\]|\\.)*)"|(\S+)/g
  for (const m of line.matchAll(pattern)) words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!)
  return words.map((w) => w.replace(/%%/g, "%").replace(/\$\$/g, "$"))
}

const unitValue = (unit: string, key: string): string | undefined =>
  unit
    .split("\n")
    .find((line) => line.startsWith(`${key}=`))
    ?.slice(key.length + 1)

/** Runs `argv` the way the unit says systemd would: restarted after `restartSec` when it fails, left stopped when it exits cleanly. */
const supervise = (argv: ReadonlyArray<string>, restartSec: number, env: NodeJS.ProcessEnv) => {
  const starts: Array<{ pid: number; port: number }> = []
  const waiters: Array<() => void> = []
  let current: ChildProcess | null = null
  let stopped = false
  const launch = () => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    current = child
    child.stderr!.resume()
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      if (!line.includes('"listening"')) return
      starts.push({ pid: child.pid!, port: JSON.parse(line).port })
      for (const w of waiters.splice(0)) w()
    })
    child.once("exit", (code, signal) => {
      const failed = code !== 0 || (signal !== null && signal !== "SIGTERM")
      if (failed && !stopped) setTimeout(launch, restartSec * 1000)
      else stopped = true
      for (const w of waiters.splice(0)) w()
    })
  }
  launch()
  return {
    starts,
    current: () => current!,
    isStopped: () => stopped,
    /** Resolves at the next start or stop. */
    next: () => new Promise<void>((resolve) => waiters.push(resolve))
  }
}

describe("orbitdock service (systemd user unit)", () => {
  it("writes a unit systemd accepts, idempotently, without the token, and removes it", async () => {
    const home = keeper.dataDir("orbitdock-home-")
    const dataDir = path.join(home, "data with space")
    fs.mkdirSync(dataDir, { mode: 0o700 })
    fs.writeFileSync(path.join(dataDir, "token"), "a-secret-token-that-must-not-leak\n", { mode: 0o600 })
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") }
    const unitFile = path.join(home, ".config", "systemd", "user", "orbitdock.service")

    const first = runCli(dataDir, ["service", "install", "--no-start", "--port", "0"], env)
    expect(first.stderr).toBe("")
    expect(first.stdout).toContain(`wrote ${unitFile}`)
    const unit = fs.readFileSync(unitFile, "utf8")
    expect(unit).not.toContain("a-secret-token")
    expect(unit).not.toContain("--token")
    expect(unit).not.toContain("ORBITDOCK_TOKEN")
    expect(unitValue(unit, "Restart")).toBe("on-failure")
    expect(unitValue(unit, "WantedBy")).toBe("default.target")
    expect(execWords(unitValue(unit, "ExecStart")!).slice(-5)).toEqual(["serve", "--data-dir", dataDir, "--port", "0"])
    if (systemdAnalyze) {
      const verified = spawnSync("systemd-analyze", ["verify", unitFile], { encoding: "utf8" })
      expect(verified.stderr).toBe("")
      expect(verified.status).toBe(0)
    }

    const again = runCli(dataDir, ["service", "install", "--no-start", "--port", "0"], env)
    expect(again.stdout).toContain(`${unitFile} is up to date`)
    expect(fs.readFileSync(unitFile, "utf8")).toBe(unit)

    const removed = orbitdock(["service", "uninstall"], env)
    expect(removed.stdout).toContain(`removed ${unitFile}`)
    expect(fs.existsSync(unitFile)).toBe(false)
    expect(orbitdock(["service", "uninstall"], env).stdout).toContain("no OrbitDock service is installed")
  })

  it("without a systemd user manager, install says so and how to start it", () => {
    const home = keeper.dataDir("orbitdock-home-")
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") }
    const managed = spawnSync("systemctl", ["--user", "is-system-running"], { encoding: "utf8" })
    if (managed.error === undefined && !/Failed to connect|No medium/.test(`${managed.stdout}${managed.stderr}`)) return // a real user manager: the other test covers the unit
    const run = runCli(path.join(home, "data"), ["service", "install", "--port", "0"], env)
    expect(run.status).toBe(1)
    expect(run.stderr).toContain("but not running: run `systemctl --user daemon-reload && systemctl --user enable --now orbitdock.service` in your login session")
    const status = runCli(path.join(home, "data"), ["service", "status"], env)
    expect(status.stdout).toContain("but not running")
  })

  it("the unit's command line, supervised by its own restart policy: back after a crash, with its data; stopped stays stopped", async () => {
    const home = keeper.dataDir("orbitdock-home-")
    const dataDir = path.join(home, "data")
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") }
    expect(runCli(dataDir, ["service", "install", "--no-start", "--port", "0"], env).status).toBe(0)
    const unit = fs.readFileSync(path.join(home, ".config", "systemd", "user", "orbitdock.service"), "utf8")
    const argv = execWords(unitValue(unit, "ExecStart")!)
    const unitEnv = Object.fromEntries(
      unit
        .split("\n")
        .filter((l) => l.startsWith("Environment="))
        .map((l) => execWords(l.slice("Environment=".length))[0]!.split(/=(.*)/s).slice(0, 2))
    )
    const service = supervise(argv, Number(unitValue(unit, "RestartSec")), { HOME: home, ...unitEnv })

    await service.next()
    expect(service.starts).toHaveLength(1)
    const token = fs.readFileSync(path.join(dataDir, "token"), "utf8").trim()
    const created = await fetch(`http://127.0.0.1:${service.starts[0]!.port}/api/sessions`, { headers: { authorization: `Bearer ${token}` } })
    expect(created.status).toBe(200)
    const ws = await import("ws")
    const socket = new ws.default(`ws://127.0.0.1:${service.starts[0]!.port}/ws`, ["orbitdock.v1.json"], { headers: { authorization: `Bearer ${token}` } })
    await new Promise((resolve, reject) => (socket.once("open", resolve), socket.once("error", reject)))
    const ack = await new Promise<{ session_id: string }>((resolve) => {
      socket.on("message", (data) => {
        const m = JSON.parse(String(data))
        if (m.id === "c1") resolve(m)
      })
      socket.send(JSON.stringify({ type: "create_session", id: "c1", provider: "sim", cwd: "/work" }))
    })
    socket.close()

    // A crash: the supervisor brings it back after RestartSec, on the same data.
    service.current().kill("SIGKILL")
    while (service.starts.length < 2) await service.next()
    expect(service.starts[1]!.pid).not.toBe(service.starts[0]!.pid)
    const state = await fetch(`http://127.0.0.1:${service.starts[1]!.port}/api/sessions/${ack.session_id}`, { headers: { authorization: `Bearer ${token}` } })
    expect(state.status).toBe(200)

    // A clean stop (what `systemctl stop` sends): it exits 0 and is not started again.
    service.current().kill("SIGTERM")
    while (!service.isStopped()) await service.next()
    expect(service.current().exitCode).toBe(0)
    await new Promise((r) => setTimeout(r, Number(unitValue(unit, "RestartSec")) * 1000 + 500))
    expect(service.starts).toHaveLength(2)
  }, 60_000)
})

describe("service definitions", () => {
  const spec = specFor(["--data-dir", "/home/a b/.orbitdock"], { PATH: "/usr/bin:/bin", ORBITDOCK_TOKEN: "secret", HOME: "/home/a b" }, ["/usr/bin/node", "/opt/orbit dock/bin.js"])

  it("quotes what systemd would split or expand, and passes on PATH but never the token", () => {
    const unit = systemdUnit({ ...spec, argv: [...spec.argv, "--public-host", "100%$HOST"] })
    expect(unitValue(unit, "ExecStart")).toBe(
      `/usr/bin/node "/opt/orbit dock/bin.js" serve --data-dir "/home/a b/.orbitdock" --public-host "100%%$$HOST"`
    )
    expect(execWords(unitValue(unit, "ExecStart")!)).toEqual(["/usr/bin/node", "/opt/orbit dock/bin.js", "serve", "--data-dir", "/home/a b/.orbitdock", "--public-host", "100%$HOST"])
    expect(unit).toContain("Environment=PATH=/usr/bin:/bin")
    expect(unit).not.toContain("secret")
  })

  it("the launchd agent: the same command, restarted on failure, started at login, logs in ~/Library/Logs", () => {
    const plist = launchdPlist(spec, "/home/a b/Library/Logs/OrbitDock/server.log")
    expect(plist).toContain("<string>/opt/orbit dock/bin.js</string>")
    expect(plist).toContain("<key>RunAtLoad</key><true/>")
    expect(plist).toContain("<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>")
    expect(plist).toContain("<key>StandardErrorPath</key><string>/home/a b/Library/Logs/OrbitDock/server.log</string>")
    expect(plist).not.toContain("secret")
    if (spawnSync("xmllint", ["--version"]).status === 0) {
      const file = path.join(keeper.dataDir("orbitdock-plist-"), "agent.plist")
      fs.writeFileSync(file, plist)
      expect(spawnSync("xmllint", ["--noout", file]).status).toBe(0)
    }
  })
})
