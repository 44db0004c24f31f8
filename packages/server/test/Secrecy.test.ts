/**
 * The token stays out of the logs, and every file the server creates is readable by its owner only,
 * whatever the umask: the real server process started under umask 022 (the usual one) with its
 * database outside the data dir, at the most verbose log level.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as readline from "node:readline"
import { afterEach, describe, expect, it } from "vitest"
import { logFile } from "../src/Logging.js"
import { binPath } from "./helpers/serverProcess.js"

const cleanup: Array<() => Promise<void> | void> = []
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step()
})

const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `orbitdock serve` under `umask 022`; resolves once it listens. */
const serveUnderUmask = (args: ReadonlyArray<string>) =>
  new Promise<{ child: ChildProcess; stderr: () => string }>((resolve, reject) => {
    const quoted = [process.execPath, binPath, "serve", ...args].map((a) => `'${a}'`).join(" ")
    const child = spawn("sh", ["-c", `umask 022 && exec ${quoted}`], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()))
    child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${stderr}`)))
    cleanup.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once("exit", r))
      child.kill("SIGTERM")
      await exited
    })
    readline.createInterface({ input: child.stdout! }).once("line", () => resolve({ child, stderr: () => stderr }))
  })

const modeOf = (file: string) => fs.statSync(file).mode & 0o777

describe("token secrecy and file modes", () => {
  it("no token in stderr or the log file, at the most verbose level; the startup line says how to open the page", async () => {
    const dataDir = path.join(tempDir("orbitdock-secrecy-"), "data")
    const { child, stderr } = await serveUnderUmask(["--port", "0", "--data-dir", dataDir, "--log-level", "debug"])
    const token = fs.readFileSync(path.join(dataDir, "token"), "utf8").trim()
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    // Everything it logs is written (stderr) and flushed (the file logger's batches) once it exited.
    const exited = new Promise((r) => child.once("exit", r))
    child.kill("SIGTERM")
    await exited
    const log = fs.readFileSync(logFile(dataDir), "utf8")
    expect(log).not.toContain(token)
    expect(stderr()).not.toContain(token)
    expect(log).toContain("orbitdock open")
    expect(stderr()).toContain("orbitdock open")
  })

  it("db, wal, shm, log, token, server.json 0600 under umask 022, a --db outside the data dir included", async () => {
    const dataDir = path.join(tempDir("orbitdock-secrecy-"), "data")
    const dbPath = path.join(tempDir("orbitdock-secrecy-db-"), "events.db")
    await serveUnderUmask(["--port", "0", "--data-dir", dataDir, "--db", dbPath, "--log-level", "info"])
    // While it runs (a clean stop removes server.json, -wal and -shm).
    expect(modeOf(dataDir)).toBe(0o700)
    expect(modeOf(path.dirname(logFile(dataDir)))).toBe(0o700)
    expect(modeOf(logFile(dataDir))).toBe(0o600)
    expect(modeOf(path.join(dataDir, "token"))).toBe(0o600)
    expect(modeOf(path.join(dataDir, "server.json"))).toBe(0o600)
    for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: 0o600 })
  })

  it("files an older version left readable become 0600 at the next start", async () => {
    const dataDir = path.join(tempDir("orbitdock-secrecy-"), "data")
    const dbPath = path.join(dataDir, "orbitdock.db")
    fs.mkdirSync(path.join(dataDir, "logs"), { recursive: true, mode: 0o755 })
    fs.chmodSync(path.join(dataDir, "logs"), 0o755)
    for (const file of [logFile(dataDir), dbPath]) {
      fs.writeFileSync(file, "")
      fs.chmodSync(file, 0o644)
    }
    await serveUnderUmask(["--port", "0", "--data-dir", dataDir, "--log-level", "info"])
    expect(modeOf(path.join(dataDir, "logs"))).toBe(0o700)
    for (const file of [logFile(dataDir), dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: 0o600 })
  })

  it("--token warns that every local user can read it", async () => {
    const dataDir = path.join(tempDir("orbitdock-secrecy-"), "data")
    const { stderr } = await serveUnderUmask(["--port", "0", "--data-dir", dataDir, "--token", "t".repeat(40), "--log-level", "info"])
    expect(stderr()).toContain("--token is visible to every local user")
    expect(stderr()).not.toContain("t".repeat(40))
  })
})
