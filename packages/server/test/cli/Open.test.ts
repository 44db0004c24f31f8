/**
 * `orbitdock open`: the browser is started on a 0600 file that forwards to the page with the token in
 * the URL fragment, so the token is in no command line; without a browser the URL with the token is
 * printed; the server comes from a verified `server.json` (or `--url`); never fails without a browser.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { forwardingPage, openFilePath, pageUrl } from "../../src/cli/Open.js"
import { serverFilePath } from "../../src/cli/Discovery.js"
import { startServerProcess } from "../helpers/serverProcess.js"

// The bundle (what the `orbitdock` launcher runs) starts in a third of the time of dist/bin.js.
const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/bundle/bin.js")

const run = (args: ReadonlyArray<string>, env: Record<string, string | undefined> = {}) => {
  const { ORBITDOCK_TOKEN: _t, BROWSER: _b, ...base } = process.env
  return spawnSync(process.execPath, [bin, "open", ...args], { env: { ...base, ...env }, encoding: "utf8" })
}

const tempDataDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-open-"))

/** A `$BROWSER` that sends the arguments it was started with to the test, over a Unix socket. */
const recordingBrowser = async (dir: string) => {
  const socket = path.join(dir, "browser.sock")
  const script = path.join(dir, "browser.cjs")
  fs.writeFileSync(
    script,
    `#!${process.execPath}\nrequire("node:net").connect(${JSON.stringify(socket)}).end(JSON.stringify(process.argv.slice(2)))\n`,
    { mode: 0o755 }
  )
  let received: (argv: Array<string>) => void = () => {}
  const argv = new Promise<Array<string>>((resolve) => (received = resolve))
  const server = net.createServer((connection) => {
    let text = ""
    connection.on("data", (chunk) => (text += chunk.toString()))
    connection.on("end", () => received(JSON.parse(text)))
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  return { script, argv, close: () => server.close() }
}

describe("orbitdock open", () => {
  it("builds the page URL with the token in the fragment, and a page that forwards to it", () => {
    expect(pageUrl("http://127.0.0.1:4000", "ab12")).toBe("http://127.0.0.1:4000/#token=ab12")
    expect(pageUrl("http://localhost:9/", "x y")).toBe("http://localhost:9/#token=x%20y")
    expect(pageUrl("http://127.0.0.1:4000", null)).toBe("http://127.0.0.1:4000/")
    const page = forwardingPage('http://h/#token=</script><b x="')
    expect(page).toContain('location.replace("http://h/#token=\\u003c/script>\\u003cb x=\\"")')
    expect(page).toContain('href="http://h/#token=&lt;/script&gt;&lt;b x=&quot;"')
    expect(page).toContain('<meta name="referrer" content="no-referrer">')
  })

  it("without a browser prints the URL with the token (data dir's or ORBITDOCK_TOKEN) for --url", () => {
    const dataDir = tempDataDir()
    fs.writeFileSync(path.join(dataDir, "token"), "f".repeat(64) + "\n")
    const fromFile = run(["--data-dir", dataDir, "--url", "http://localhost:4100"])
    expect(fromFile.status).toBe(0)
    expect(fromFile.stdout.trim()).toBe(`http://localhost:4100/#token=${"f".repeat(64)}`)
    const fromEnv = run(["--data-dir", dataDir, "--url", "http://localhost:4100"], { ORBITDOCK_TOKEN: "abc" })
    expect(fromEnv.stdout.trim()).toBe("http://localhost:4100/#token=abc")
    expect(fromEnv.stderr).toBe("")
    // --token works, and warns that it shows in ps.
    const fromFlag = run(["--data-dir", dataDir, "--url", "http://localhost:4100", "--token", "xyz"])
    expect(fromFlag.stdout.trim()).toBe("http://localhost:4100/#token=xyz")
    expect(fromFlag.stderr).toContain("--token is visible to every local user")
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("starts $BROWSER on a 0600 forwarding file, so no command line holds the token", async () => {
    const dataDir = tempDataDir()
    const token = "d".repeat(64)
    fs.writeFileSync(path.join(dataDir, "token"), `${token}\n`)
    const browser = await recordingBrowser(dataDir)
    const answer = run(["--data-dir", dataDir, "--url", "http://127.0.0.1:4100"], { BROWSER: browser.script })
    expect(answer.status).toBe(0)
    expect(answer.stdout.trim()).toBe(`opening http://127.0.0.1:4100/ in ${browser.script}`)
    expect(answer.stdout + answer.stderr).not.toContain(token)
    const argv = await browser.argv
    browser.close()
    expect(argv).toEqual([`file://${openFilePath(dataDir)}`])
    expect(argv.join(" ")).not.toContain(token)
    expect(fs.statSync(openFilePath(dataDir)).mode & 0o777).toBe(0o600)
    expect(fs.readFileSync(openFilePath(dataDir), "utf8")).toContain(`location.replace("http://127.0.0.1:4100/#token=${token}")`)
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("does not fail when the configured browser cannot start: prints the URL instead", () => {
    const dataDir = tempDataDir()
    fs.writeFileSync(path.join(dataDir, "token"), "e".repeat(64))
    const answer = run(["--data-dir", dataDir, "--url", "http://127.0.0.1:4000"], { BROWSER: path.join(dataDir, "no-such-browser") })
    expect(answer.status).toBe(0)
    expect(answer.stdout.trim()).toBe(`http://127.0.0.1:4000/#token=${"e".repeat(64)}`)
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("without --url and without a running server, fails clearly instead of guessing a port", () => {
    const dataDir = tempDataDir()
    fs.writeFileSync(path.join(dataDir, "token"), "e".repeat(64))
    const answer = run(["--data-dir", dataDir, "--no-browser"])
    expect(answer.status).toBe(1)
    expect(answer.stdout).toBe("")
    expect(answer.stderr).toContain(`no OrbitDock server is running on ${dataDir}`)
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("finds a server started on any port through <data-dir>/server.json, which goes away when it stops", async () => {
    const dataDir = tempDataDir()
    const server = await startServerProcess(dataDir)
    try {
      const file = JSON.parse(fs.readFileSync(serverFilePath(dataDir), "utf8"))
      expect(file).toMatchObject({ port: server.port, pid: server.child.pid, server_id: server.serverId })
      expect(file.pid_start).toMatch(/^[0-9a-f-]*:\d+$/)
      expect(fs.statSync(serverFilePath(dataDir)).mode & 0o777).toBe(0o600)
      const answer = run(["--data-dir", dataDir, "--no-browser"])
      expect(answer.stdout.trim()).toBe(`http://127.0.0.1:${server.port}/#token=${server.token}`)
    } finally {
      await server.kill("SIGTERM")
    }
    expect(fs.existsSync(serverFilePath(dataDir))).toBe(false)
    fs.rmSync(dataDir, { recursive: true, force: true })
  }, 30_000)
})
