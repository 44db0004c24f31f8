/**
 * How client commands find the server running on a data directory: `serve` writes
 * `<data-dir>/server.json` (mode 0600) once it listens and removes it when it stops. A crash leaves
 * it behind, and its port may by then belong to anyone, so a reader trusts it only when
 * - the pid it names is alive and started when the file says (`pid_start`: the process's start time
 *   from /proc, so a recycled pid is not taken for the server), and
 * - before any token goes to its URL, that URL's `GET /health` (which needs no token) answers the
 *   file's `server_id` (which only the server and readers of the 0600 file know).
 * Anything else is a stale file: ignored, with a message saying why.
 */
import { answers } from "@orbitdock/client-sdk/server-manager"
import { Health } from "@orbitdock/domain"
import { Effect, Schema } from "effect"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"

export interface ServerFile {
  readonly url: string
  readonly port: number
  readonly socket: string | null
  readonly pid: number
  /** When that pid started (`processStartTime`); null where it cannot be known. */
  readonly pid_start: string | null
  readonly server_id: string
  readonly version: string
}

export const serverFilePath = (dataDir: string): string => path.join(dataDir, "server.json")

export const writeServerFile = (dataDir: string, file: ServerFile): void => {
  const target = serverFilePath(dataDir)
  const temp = `${target}.${process.pid}.tmp`
  fs.writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 })
  fs.renameSync(temp, target)
}

/** Removes the file if it still describes this process (a newer server may have replaced it). */
export const removeServerFile = (dataDir: string, pid: number = process.pid): void => {
  if (readServerFile(dataDir)?.pid === pid) fs.rmSync(serverFilePath(dataDir), { force: true })
}

/**
 * An identity for the process's start: on Linux the boot id and the start time in clock ticks
 * (`/proc/<pid>/stat`, field 22); elsewhere what `ps -o lstart=` says; null when the process does
 * not exist or neither is available.
 */
export const processStartTime = (pid: number): string | null => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command name, which may itself hold spaces and parentheses: state is field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const ticks = fields[22 - 3]
    let boot = ""
    try {
      boot = fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim()
    } catch {
      // No boot id: the start ticks alone still tell a recycled pid apart.
    }
    if (ticks !== undefined && /^\d+$/.test(ticks)) return `${boot}:${ticks}`
  } catch {
    // No /proc (macOS): ask ps.
  }
  if (process.platform === "linux") return null
  try {
    const started = childProcess.execFileSync("ps", ["-o", "lstart=", "-p", String(pid)], { encoding: "utf8", timeout: 2000 }).trim()
    return started === "" ? null : started
  } catch {
    return null
  }
}

/** The file as written, or null when there is none or it is unreadable (no liveness check). */
export const readServerFile = (dataDir: string): ServerFile | null => {
  try {
    const file = JSON.parse(fs.readFileSync(serverFilePath(dataDir), "utf8")) as Partial<ServerFile>
    if (typeof file.url !== "string" || typeof file.pid !== "number" || typeof file.server_id !== "string") return null
    return { pid_start: null, socket: null, port: 0, version: "", ...file } as ServerFile
  } catch {
    return null
  }
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Why the file's process is not the server that wrote it, or null when it is. */
export const staleProcess = (file: ServerFile): string | null => {
  if (!isAlive(file.pid)) return `its server (pid ${file.pid}) is gone`
  if (file.pid_start === null) return null
  const now = processStartTime(file.pid)
  return now !== null && now !== file.pid_start ? `pid ${file.pid} is now another process` : null
}

/** What a data directory says about its server. */
export type Discovered =
  | { readonly _tag: "Running"; readonly file: ServerFile }
  | { readonly _tag: "Stale"; readonly file: ServerFile; readonly reason: string }
  | { readonly _tag: "None" }

/** The server file, judged by its process only (enough for the Unix socket, which carries no token). */
export const discover = (dataDir: string): Discovered => {
  const file = readServerFile(dataDir)
  if (file === null) return { _tag: "None" }
  const reason = staleProcess(file)
  return reason === null ? { _tag: "Running", file } : { _tag: "Stale", file, reason }
}

const decodeHealth = Schema.decodeUnknownEither(Health)

/** `GET <url>/health` (no token): the server_id it answers, or why there is none. */
export const healthOf = (baseUrl: string, timeoutMs = 2000): Effect.Effect<{ readonly serverId: string } | { readonly error: string }> =>
  Effect.async((resume) => {
    let url: URL
    try {
      url = new URL("/health", baseUrl)
    } catch {
      return resume(Effect.succeed({ error: `${baseUrl} is not a URL` }))
    }
    const request = http.get(url, { timeout: timeoutMs, agent: false }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (c: Buffer) => chunks.push(c))
      response.on("error", () => resume(Effect.succeed({ error: "the answer was cut" })))
      response.on("end", () => {
        try {
          const health = decodeHealth(JSON.parse(Buffer.concat(chunks).toString("utf8")))
          resume(Effect.succeed(health._tag === "Right" ? { serverId: health.right.server_id } : { error: "not an OrbitDock /health answer" }))
        } catch {
          resume(Effect.succeed({ error: "not an OrbitDock /health answer" }))
        }
      })
    })
    request.on("timeout", () => request.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    request.on("error", (e) => resume(Effect.succeed({ error: e.message })))
  })

/**
 * The server file when its process is the server and its URL answers with its `server_id`: the
 * check to make before a token is sent to that URL.
 */
export const discoverVerified = (dataDir: string): Effect.Effect<Discovered> =>
  Effect.gen(function* () {
    const found = discover(dataDir)
    if (found._tag !== "Running") return found
    const health = yield* healthOf(found.file.url)
    if ("error" in health) return { _tag: "Stale", file: found.file, reason: `${found.file.url} does not answer (${health.error})` }
    if (health.serverId !== found.file.server_id) {
      return { _tag: "Stale", file: found.file, reason: `another server answers at ${found.file.url} (server_id ${health.serverId})` }
    }
    return found
  })

/** Whether a server answers `GET /health` with 200 on the Unix socket (no token needed there): the SDK's check. */
export const socketAnswers = (socketPath: string, timeoutMs = 2000): Effect.Effect<boolean> =>
  Effect.promise(() => answers(socketPath, timeoutMs))

/** The line a command prints when it ignores a stale file. */
export const staleMessage = (dataDir: string, reason: string): string =>
  `ignoring ${serverFilePath(dataDir)}, left by a server that is not running any more: ${reason}`
