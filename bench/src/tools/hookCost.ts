/**
 * What one Claude Code hook delivery costs, each way `orbitdock hooks install` can write it, against
 * the real server (the bundle `npm start` runs) on this machine:
 * - unix (the default): Claude runs the command hook, i.e. `sh -c '<command>'` with the event's JSON
 *   on stdin; the command is the one `hooks install` writes (curl over the Unix socket);
 * - http (`--transport http`): Claude POSTs the JSON itself, with the token header, on a new
 *   connection (measured here from this Node process, as Claude's own Node process does it);
 * - and, for scale, `sh -c 'cat >/dev/null'`: what any command hook costs Claude before it does anything.
 * Deliveries are sequential (Claude runs one event's hooks before going on) and interleaved between
 * the three, so the machine's load weighs on each alike. Wall time per delivery, in ms, and CPU per
 * delivery: on Claude's side (the hook's processes, or the POST in this process) and in the server.
 *
 *   node bench/dist/tools/hookCost.js [--n=300]
 */
import { launchServer } from "@orbitdock/test-kit"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { hookEntry } from "../../../packages/server/dist/connectors/claude/HookSettings.js"
import { SERVER_NODE_FLAGS } from "../lib/server.js"
import { quantile } from "../lib/stats.js"

const n = Number(process.argv.find((a) => a.startsWith("--n="))?.slice(4) ?? 300)
const WARMUP = 20

/** `sh -c <command>` with `body` on stdin, as Claude runs a command hook; resolves with its stdout. */
const runCommand = (command: string, body: string) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["pipe", "pipe", "inherit"] })
    let out = ""
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()))
    child.once("error", reject)
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`hook exited ${code}`))))
    child.stdin!.end(body)
  })

/** One POST /hook on a fresh connection, as Claude's http hook sends it. */
const post = (url: string, token: string, body: string) =>
  new Promise<number>((resolve, reject) => {
    const target = new URL("/hook?orbitdock=1", url)
    const request = http.request(
      target,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}`, "content-length": Buffer.byteLength(body) }
      },
      (response) => {
        response.resume()
        response.once("end", () => resolve(response.statusCode ?? 0))
      }
    )
    request.once("error", reject)
    request.end(body)
  })

const TICK_MS = 10 // USER_HZ = 100 on Linux

/** CPU ms from /proc/<pid>/stat: the process's own (utime+stime) and its waited-for children's (cutime+cstime). */
const cpuOf = (pid: number | "self") => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number)
  // Fields 14–17 of stat, counted from field 3 after the command name.
  return { own: (f[11]! + f[12]!) * TICK_MS, children: (f[13]! + f[14]!) * TICK_MS }
}

interface Sample {
  readonly wallMs: number
  readonly clientCpuMs: number
  readonly serverCpuMs: number
}

const measure = async (serverPid: number, f: () => Promise<unknown>): Promise<Sample> => {
  const server0 = cpuOf(serverPid).own
  const children0 = cpuOf("self").children
  const own0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  await f()
  const wallMs = Number(process.hrtime.bigint() - start) / 1e6
  const own = process.cpuUsage(own0)
  return {
    wallMs,
    clientCpuMs: (own.user + own.system) / 1000 + (cpuOf("self").children - children0),
    serverCpuMs: cpuOf(serverPid).own - server0
  }
}

const mean = (values: ReadonlyArray<number>) => values.reduce((a, b) => a + b, 0) / values.length

const row = (name: string, samples: ReadonlyArray<Sample>) => {
  const wall = samples.map((s) => s.wallMs)
  const f = (v: number) => v.toFixed(1).padStart(6)
  return `| ${name.padEnd(34)} | ${f(quantile(wall, 0.5))} | ${f(quantile(wall, 0.9))} | ${f(quantile(wall, 0.99))} | ${f(mean(wall))} | ${f(mean(samples.map((s) => s.clientCpuMs)))} | ${f(mean(samples.map((s) => s.serverCpuMs)))} |`
}

const main = async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-hookcost-"))
  // The bundle `npm start` runs, with its Node options, listening on TCP and its Unix socket.
  const server = await launchServer({ dataDir, entry: "bundle", nodeArgs: SERVER_NODE_FLAGS })
  try {
    const { token } = server
    const sessionId = "7b0c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d"
    const target = { socketPath: server.listening.socket!, url: server.listening.url, token, permissionTimeoutS: 120 }
    const unixCommand = hookEntry("Notification" as never, { ...target, transport: "unix" }).command as string
    // The session exists first: every measured delivery is then the same small hook of a known session.
    await runCommand(unixCommand, JSON.stringify({ session_id: sessionId, hook_event_name: "SessionStart", cwd: "/work/bench" }))
    const body = JSON.stringify({
      session_id: sessionId,
      hook_event_name: "Notification",
      cwd: "/work/bench",
      message: "Claude needs your permission",
      notification_type: "permission_prompt"
    })
    const kinds = {
      unix: () => runCommand(unixCommand, body),
      http: () => post(server.listening.url, token, body).then((status) => {
        if (status !== 202) throw new Error(`http hook answered ${status}`)
      }),
      shell: () => runCommand("cat >/dev/null", body)
    }
    const samples: Record<keyof typeof kinds, Array<Sample>> = { unix: [], http: [], shell: [] }
    for (let i = 0; i < WARMUP + n; i++) {
      for (const kind of Object.keys(kinds) as Array<keyof typeof kinds>) {
        const sample = await measure(server.child.pid!, kinds[kind])
        if (i >= WARMUP) samples[kind].push(sample)
      }
    }
    console.log(`${n} deliveries each (after ${WARMUP} warm-up), interleaved; ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(2)}`)
    console.log("| hook delivery (ms)                 | wall p50 | p90 | p99 | mean | CPU, Claude's side (mean) | CPU, server (mean) |")
    console.log("|---|---:|---:|---:|---:|---:|---:|")
    console.log(row("unix: sh -c 'curl --unix-socket …'", samples.unix))
    console.log(row("http: POST with the token", samples.http))
    console.log(row("sh -c 'cat >/dev/null' (baseline)", samples.shell))
  } finally {
    await server.stop("SIGTERM")
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
}

await main()
