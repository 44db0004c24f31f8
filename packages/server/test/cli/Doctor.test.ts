/**
 * `orbitdock doctor` against real states of a machine: a running server (real process), files made
 * readable by others, a stale server.json, a newer database, a port someone else holds, hooks
 * pointing at another server. Each problem is named with its fix; only failures make the exit code 1.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import type { Finding } from "../../src/cli/Doctor.js"
import { TESTED_VERSIONS } from "../../src/connectors/testedVersions.js"
import { SCHEMA_VERSION } from "../../src/eventlog/eventLogSchema.js"
import { runCli } from "../helpers/cli.js"
import { serverKeeper } from "../helpers/serverProcess.js"

const keeper = serverKeeper()
afterEach(keeper.stopAll)

const root = path.resolve(import.meta.dirname, "../../../..")

/** Runs the doctor with its settings file and agents in `home`; returns its findings by check. */
const doctor = (dataDir: string, home: string, extra: ReadonlyArray<string> = []) => {
  const run = runCli(dataDir, ["doctor", "--json", "--settings", path.join(home, "settings.json"), ...extra], {
    HOME: home,
    PATH: path.dirname(process.execPath)
  })
  const report = JSON.parse(run.stdout) as { findings: Array<Finding> }
  const by = (check: string) => report.findings.filter((f) => f.check === check)
  return { status: run.status, findings: report.findings, by, one: (check: string) => by(check)[0]! }
}

describe("orbitdock doctor", () => {
  it("a healthy server: reachable with its version, private files, its port, hooks pointing at it", async () => {
    const dataDir = keeper.dataDir("orbitdock-doctor-")
    const home = keeper.dataDir("orbitdock-doctor-home-")
    const server = await keeper.start(dataDir)
    expect(runCli(dataDir, ["hooks", "install", "--settings", path.join(home, "settings.json")]).status).toBe(0)

    const report = doctor(dataDir, home)
    expect(report.status).toBe(0)
    expect(report.one("server")).toMatchObject({ level: "ok" })
    expect(report.one("server").summary).toContain(`(pid ${server.child.pid}) answers at http://127.0.0.1:${server.port} and ${server.socketPath}`)
    expect(report.one("port").level).toBe("ok")
    expect(report.one("permissions")).toMatchObject({ level: "ok" })
    expect(report.one("event log")).toMatchObject({ level: "ok", summary: `${path.join(dataDir, "orbitdock.db")}: schema ${SCHEMA_VERSION}` })
    expect(report.one("hooks")).toMatchObject({ level: "ok" })
    expect(report.one("disk").summary).toMatch(/free where/)
    // No agents on this PATH: said, with how to install them.
    expect(report.one("codex")).toMatchObject({ level: "warn", fix: "npm install -g @openai/codex, or point --codex-bin at it" })
    expect(report.one("claude").level).toBe("warn")
  }, 30_000)

  it("names each problem with its fix, and fails on those that break OrbitDock", async () => {
    const dataDir = keeper.dataDir("orbitdock-doctor-")
    const home = keeper.dataDir("orbitdock-doctor-home-")
    const elsewhere = keeper.dataDir("orbitdock-doctor-other-")
    // A server ran here once, and crashed: its files stay behind.
    const first = await keeper.start(dataDir)
    await first.kill("SIGKILL")
    fs.chmodSync(path.join(dataDir, "token"), 0o644)
    const db = path.join(dataDir, "orbitdock.db")
    const d = new Database(db)
    d.pragma(`user_version = ${SCHEMA_VERSION + 2}`)
    d.close()
    // Hooks installed for another data dir's server.
    expect(runCli(elsewhere, ["hooks", "install", "--settings", path.join(home, "settings.json")]).status).toBe(0)
    // Someone else on the port a server here would take.
    const squatter = net.createServer()
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve))
    const port = (squatter.address() as net.AddressInfo).port

    try {
      const report = doctor(dataDir, home, ["--port", String(port)])
      expect(report.status).toBe(1)
      expect(report.one("server.json")).toMatchObject({ level: "warn", fix: `remove it: rm ${path.join(dataDir, "server.json")} (a server started there rewrites it)` })
      expect(report.one("server.json").summary).toContain(`its server (pid ${first.child.pid}) is gone`)
      expect(report.one("port")).toMatchObject({ level: "fail" })
      expect(report.one("port").summary).toBe(`127.0.0.1:${port} is taken by another program: \`orbitdock serve\` would fail to listen`)
      expect(report.by("permissions")).toContainEqual({
        check: "permissions",
        level: "fail",
        summary: `${path.join(dataDir, "token")} is readable by other users (mode 0644)`,
        fix: `chmod 600 ${path.join(dataDir, "token")}`
      })
      expect(report.one("event log")).toMatchObject({ level: "fail" })
      expect(report.one("event log").summary).toContain(`written by a newer OrbitDock (schema ${SCHEMA_VERSION + 2}`)
      expect(report.one("hooks")).toMatchObject({ level: "warn", fix: "orbitdock hooks install (it replaces OrbitDock's entries only)" })
      expect(report.one("hooks").summary).toContain(path.join(elsewhere, "server.sock"))

      // The text form says the same, with the fixes, for a person.
      const text = runCli(dataDir, ["doctor", "--settings", path.join(home, "settings.json"), "--port", String(port)], { HOME: home })
      expect(text.status).toBe(1)
      expect(text.stdout).toContain(`FAIL  permissions  ${path.join(dataDir, "token")} is readable by other users (mode 0644)`)
      expect(text.stdout).toContain(`fix: chmod 600 ${path.join(dataDir, "token")}`)
      expect(text.stdout).toMatch(/\n\d+ to fix, \d+ to look at\n$/)
    } finally {
      squatter.close()
    }
  }, 30_000)

  it("knows the agent versions the end-to-end suites test", () => {
    const pin = (suite: string, pkg: string) => JSON.parse(fs.readFileSync(path.join(root, "e2e", suite, "package.json"), "utf8")).devDependencies?.[pkg] ?? JSON.parse(fs.readFileSync(path.join(root, "e2e", suite, "package.json"), "utf8")).dependencies?.[pkg]
    expect(TESTED_VERSIONS.codex).toBe(pin("codex", "@openai/codex"))
    expect(TESTED_VERSIONS.claude).toBe(pin("claude", "@anthropic-ai/claude-code"))
  })
})
