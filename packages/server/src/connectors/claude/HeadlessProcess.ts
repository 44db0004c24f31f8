/**
 * The `claude` process of a driven session, below the protocol: finding the binary, the command
 * line (stream-json both ways, the stdio permission tool, `--session-id` the first time and
 * `--resume` afterwards), spawning it with its stdout as a queue of lines, and where its transcript
 * is. What the lines mean is `Headless.ts`'s.
 */
import type { ApprovalPolicy, SandboxMode } from "@orbitdock/domain"
import { Deferred, Effect, Queue, type Scope } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as readline from "node:readline"
import { childEnv } from "../../internal/childEnv.js"
import { encodeCwd } from "./TranscriptTranslate.js"

/** Finds the binary: the configured path, else `ORBITDOCK_CLAUDE_BIN`, else `claude` on `PATH`. */
export const findClaudeBin = (
  configured: string | null | undefined,
  env: Readonly<Record<string, string | undefined>>
): string | undefined => {
  const executable = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK)
      return fs.statSync(p).isFile()
    } catch {
      return false
    }
  }
  const explicit = configured ?? env.ORBITDOCK_CLAUDE_BIN
  if (explicit !== undefined && explicit !== null && explicit.length > 0) return executable(explicit) ? explicit : undefined
  for (const dir of (env.PATH ?? "").split(path.delimiter)) {
    if (dir.length === 0) continue
    const candidate = path.join(dir, "claude")
    if (executable(candidate)) return candidate
  }
  return undefined
}

/**
 * `--permission-mode` for an approval policy. `untrusted`/`on-request`: Claude's default (ask for
 * anything not read-only, through OrbitDock); `never`: never ask (`dontAsk` denies what is not
 * allowed, `bypassPermissions` with full access).
 */
export const permissionMode = (policy: ApprovalPolicy, sandbox: SandboxMode | undefined): ReadonlyArray<string> =>
  policy !== "never" ? [] : ["--permission-mode", sandbox === "danger-full-access" ? "bypassPermissions" : "dontAsk"]

/** The command line of a driven session's process. */
export const claudeArgs = (p: {
  readonly claudeId: string
  readonly resume: boolean
  readonly model: string | undefined
  readonly mode: ReadonlyArray<string>
}): ReadonlyArray<string> => [
  "-p",
  "--input-format",
  "stream-json",
  "--output-format",
  "stream-json",
  "--verbose",
  "--permission-prompt-tool",
  "stdio",
  ...(p.resume ? ["--resume", p.claudeId] : ["--session-id", p.claudeId]),
  ...(p.model === undefined ? [] : ["--model", p.model]),
  ...p.mode
]

/** Where Claude Code writes a session's transcript (searching the projects when the cwd was encoded differently). */
export const transcriptPath = (claudeDir: string, cwd: string, claudeId: string): string => {
  const projects = path.join(claudeDir, "projects")
  const expected = path.join(projects, encodeCwd(cwd), `${claudeId}.jsonl`)
  if (fs.existsSync(expected)) return expected
  for (const dir of fs.existsSync(projects) ? fs.readdirSync(projects) : []) {
    const candidate = path.join(projects, dir, `${claudeId}.jsonl`)
    if (fs.existsSync(candidate)) return candidate
  }
  return expected
}

export interface Spawned {
  readonly proc: ChildProcessWithoutNullStreams
  /** stdout lines in order; `null` once the process is gone. */
  readonly lines: Queue.Dequeue<string | null>
  readonly exitCode: () => number | null
  /** The last 4 KiB of stderr (for the message shown when it dies). */
  readonly stderr: () => string
}

/**
 * Spawns the process in the current scope: closing it stops the process (`stop`) and waits for it.
 * A spawn failure (e.g. ENOENT) shows up as the end of `lines`.
 */
export const spawnStreamJson = (
  bin: string,
  args: ReadonlyArray<string>,
  cwd: string,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<Spawned, never, Scope.Scope> =>
  Effect.gen(function* () {
    const lines = yield* Queue.unbounded<string | null>()
    const exited = yield* Deferred.make<void>()
    const proc = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(bin, [...args], { cwd, env: childEnv(env), stdio: ["pipe", "pipe", "pipe"] })),
      (proc) => stop(proc, Deferred.await(exited))
    )
    let stderr = ""
    let exitCode: number | null = null
    readline.createInterface({ input: proc.stdout }).on("line", (l) => Queue.unsafeOffer(lines, l))
    proc.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-4096)
    })
    proc.stdin.on("error", () => undefined)
    proc.on("error", (e) => {
      stderr += String(e)
      Queue.unsafeOffer(lines, null)
      // Never spawned: there is no process to wait for.
      if (proc.pid === undefined) Deferred.unsafeDone(exited, Effect.void)
    })
    proc.on("close", (code) => {
      exitCode = code
      Queue.unsafeOffer(lines, null)
      Deferred.unsafeDone(exited, Effect.void)
    })
    return { proc, lines, exitCode: () => exitCode, stderr: () => stderr }
  })

/**
 * Closes stdin (the CLI then ends), then escalates to SIGTERM and SIGKILL, 2 s apart. It runs as a
 * finalizer, i.e. uninterruptibly: the waits are made interruptible, or their timeouts could not
 * interrupt them.
 */
const stop = (proc: ChildProcessWithoutNullStreams, waitForExit: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const exited = Effect.interruptible(waitForExit)
    if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    proc.stdin.end()
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      if ((yield* exited.pipe(Effect.timeout("2 seconds"), Effect.option))._tag === "Some") return
      proc.kill(signal)
    }
    yield* exited.pipe(Effect.timeout("2 seconds"), Effect.ignore)
  })
