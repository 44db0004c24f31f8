/** `orbitdock open`: the page URL with the token, from the data dir or flags; never fails without a browser. */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { pageUrl } from "../../src/cli/Open.js"
import { serverFilePath } from "../../src/cli/Discovery.js"
import { startServerProcess } from "../helpers/serverProcess.js"

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/bin.js")

const run = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  const { ORBITDOCK_TOKEN: _t, BROWSER: _b, ...base } = process.env
  return spawnSync(process.execPath, [bin, "open", ...args], { env: { ...base, ...env }, encoding: "utf8" })
}

describe("orbitdock open", () => {
  it("builds the page URL", () => {
    expect(pageUrl("http://127.0.0.1:4000", "ab12")).toBe("http://127.0.0.1:4000/?token=ab12")
    expect(pageUrl("http://localhost:9/", "x y")).toBe("http://localhost:9/?token=x%20y")
    expect(pageUrl("http://127.0.0.1:4000", null)).toBe("http://127.0.0.1:4000/")
  })

  it("prints the URL with the data dir's token, and with --url/--token", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-open-"))
    fs.writeFileSync(path.join(dataDir, "token"), "f".repeat(64) + "\n")
    const fromFile = run(["--data-dir", dataDir])
    expect(fromFile.status).toBe(0)
    expect(fromFile.stdout.trim()).toBe(`http://127.0.0.1:4000/?token=${"f".repeat(64)}`)
    const fromFlags = run(["--data-dir", dataDir, "--url", "http://localhost:4100", "--token", "abc"])
    expect(fromFlags.stdout.trim()).toBe("http://localhost:4100/?token=abc")
  })

  it("does not fail when the configured browser cannot start", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-open-"))
    fs.writeFileSync(path.join(dataDir, "token"), "e".repeat(64))
    const answer = run(["--data-dir", dataDir], { BROWSER: path.join(dataDir, "no-such-browser") })
    expect(answer.status).toBe(0)
    expect(answer.stdout.trim()).toBe(`http://127.0.0.1:4000/?token=${"e".repeat(64)}`)
  })

  it("finds a server started on any port through <data-dir>/server.json, which goes away when it stops", async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-open-"))
    const server = await startServerProcess(dataDir)
    try {
      const file = JSON.parse(fs.readFileSync(serverFilePath(dataDir), "utf8"))
      expect(file).toMatchObject({ port: server.port, pid: server.child.pid, server_id: server.serverId })
      expect(fs.statSync(serverFilePath(dataDir)).mode & 0o777).toBe(0o600)
      const answer = run(["--data-dir", dataDir])
      expect(answer.stdout.trim()).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`)
    } finally {
      await server.kill("SIGTERM")
    }
    expect(fs.existsSync(serverFilePath(dataDir))).toBe(false)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }, 30_000)
})
