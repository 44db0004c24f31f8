/**
 * Finding and running the `codex app-server` binary. Owns the lookup (`--codex-bin`, then
 * `ORBITDOCK_CODEX_BIN`, then `codex` on PATH), resolving the npm Node wrapper to the native binary
 * it would exec (so the pid we hold is the app-server's), spawning it with the server's environment,
 * feeding its stdout lines to a `CodexRpc`, and stopping it (close stdin, then SIGTERM, then SIGKILL).
 * Does not know what the messages mean.
 */
import { Data, Deferred, Effect, Runtime, type Scope } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import * as readline from "node:readline"
import { childEnv } from "../../internal/childEnv.js"
import * as CodexRpc from "./CodexRpc.js"

export class CodexBinaryNotFound extends Data.TaggedError("CodexBinaryNotFound")<{ readonly message: string }> {}
export class CodexSpawnError extends Data.TaggedError("CodexSpawnError")<{ readonly message: string }> {}

export interface ResolvedBinary {
  /** The executable to spawn. */
  readonly path: string
  /** Extra environment (what the npm wrapper would have set). */
  readonly env: Readonly<Record<string, string>>
}

const PLATFORM_PACKAGES: Readonly<Record<string, readonly [string, string]>> = {
  "linux-x64": ["@openai/codex-linux-x64", "x86_64-unknown-linux-musl"],
  "linux-arm64": ["@openai/codex-linux-arm64", "aarch64-unknown-linux-musl"],
  "darwin-x64": ["@openai/codex-darwin-x64", "x86_64-apple-darwin"],
  "darwin-arm64": ["@openai/codex-darwin-arm64", "aarch64-apple-darwin"]
}

const isExecutable = (file: string): boolean => {
  try {
    return fs.statSync(file).isFile() && (fs.accessSync(file, fs.constants.X_OK), true)
  } catch {
    return false
  }
}

const onPath = (name: string, pathEnv: string | undefined): string | undefined => {
  for (const dir of (pathEnv ?? "").split(path.delimiter)) {
    if (dir.length === 0) continue
    const candidate = path.join(dir, name)
    if (isExecutable(candidate)) return candidate
  }
  return undefined
}

/** Whether a file is a Node script (the `@openai/codex` wrapper) rather than a native binary. */
const isNodeScript = (file: string): boolean => {
  if (file.endsWith(".js") || file.endsWith(".mjs")) return true
  try {
    const fd = fs.openSync(file, "r")
    try {
      const head = Buffer.alloc(64)
      const n = fs.readSync(fd, head, 0, 64, 0)
      const first = head.subarray(0, n).toString("utf8").split("\n")[0] ?? ""
      return first.startsWith("#!") && first.includes("node")
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    return false
  }
}

/**
 * The native binary the npm wrapper at `wrapper` would run, found the way the wrapper finds it (its
 * platform package, resolved from the wrapper's own package), or undefined.
 */
export const nativeFromWrapper = (wrapper: string): ResolvedBinary | undefined => {
  const platform = PLATFORM_PACKAGES[`${process.platform}-${process.arch}`]
  if (platform === undefined) return undefined
  const [pkg, triple] = platform
  try {
    const packageRoot = path.dirname(path.dirname(fs.realpathSync(wrapper)))
    const require = createRequire(path.join(packageRoot, "package.json"))
    const manifest = require.resolve(`${pkg}/package.json`)
    const native = path.join(path.dirname(manifest), "vendor", triple, "bin", "codex")
    return isExecutable(native) ? { path: native, env: { CODEX_MANAGED_PACKAGE_ROOT: packageRoot } } : undefined
  } catch {
    return undefined
  }
}

/** `--codex-bin`, else `ORBITDOCK_CODEX_BIN`, else `codex` on PATH; a wrapper becomes its native binary. */
export const resolveBinary = (
  configured: string | null | undefined,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<ResolvedBinary, CodexBinaryNotFound> =>
  Effect.suspend(() => {
    const wanted = configured ?? env.ORBITDOCK_CODEX_BIN ?? "codex"
    const found = wanted.includes("/") ? (isExecutable(wanted) ? path.resolve(wanted) : undefined) : onPath(wanted, env.PATH)
    if (found === undefined) {
      const origin = configured != null ? "--codex-bin" : env.ORBITDOCK_CODEX_BIN !== undefined ? "ORBITDOCK_CODEX_BIN" : "PATH"
      return Effect.fail(new CodexBinaryNotFound({ message: `codex binary not found: ${wanted} (from ${origin})` }))
    }
    if (isNodeScript(found)) return Effect.succeed(nativeFromWrapper(found) ?? { path: found, env: {} })
    return Effect.succeed({ path: found, env: {} })
  })

export interface ExitInfo {
  readonly code: number | null
  readonly signal: string | null
}

export const describeExit = (exit: ExitInfo): string =>
  exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code ?? "unknown"}`

export interface AppServer {
  readonly pid: number
  readonly rpc: CodexRpc.CodexRpc
  readonly exited: Deferred.Deferred<ExitInfo>
  /** The last lines the server wrote to stderr (for error messages). */
  readonly stderrTail: () => string
}

/**
 * Spawns `codex app-server` and connects a `CodexRpc` to it. Closing the scope stops the process:
 * stdin is closed (the server exits at once), then SIGTERM and SIGKILL by pid if it lingers.
 */
export const spawnAppServer = (options: {
  readonly binary: ResolvedBinary
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd?: string
  readonly requestTimeoutMs?: number
}): Effect.Effect<AppServer, CodexSpawnError, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const exited = yield* Deferred.make<ExitInfo>()
    const env = childEnv({ ...options.env, ...options.binary.env })
    const child = yield* Effect.acquireRelease(
      Effect.async<ReturnType<typeof spawn>, CodexSpawnError>((resume) => {
        const proc = spawn(options.binary.path, ["app-server"], {
          env,
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
          stdio: ["pipe", "pipe", "pipe"]
        })
        const onError = (error: Error) =>
          resume(Effect.fail(new CodexSpawnError({ message: `cannot start ${options.binary.path}: ${error.message}` })))
        proc.once("error", onError)
        proc.once("spawn", () => {
          proc.off("error", onError)
          resume(Effect.succeed(proc))
        })
      }),
      (proc) => stop(proc, exited)
    )
    const rpc = yield* CodexRpc.make({
      write: (line) =>
        Effect.async<void, CodexRpc.CodexRpcError>((resume) => {
          if (child.stdin === null || child.stdin.destroyed || !child.stdin.writable) {
            resume(Effect.fail(new CodexRpc.CodexRpcError({ operation: "write:closed", message: "codex stdin is closed" })))
            return
          }
          child.stdin.write(line, (error) =>
            resume(
              error == null
                ? Effect.void
                : Effect.fail(new CodexRpc.CodexRpcError({ operation: "write", message: error.message }))
            )
          )
        }),
      ...(options.requestTimeoutMs === undefined ? {} : { defaultTimeout: options.requestTimeoutMs })
    })
    // A write to a dead process reports EPIPE here; the exit handler below is what reacts to it.
    child.stdin?.on("error", () => {})
    const tail: Array<string> = []
    if (child.stderr !== null) {
      readline.createInterface({ input: child.stderr }).on("line", (line) => {
        tail.push(line)
        if (tail.length > 20) tail.shift()
      })
    }
    if (child.stdout !== null) {
      readline.createInterface({ input: child.stdout }).on("line", (line) => runSync(rpc.handleLine(line)))
    }
    // `close` comes after stdout has ended, so every line was handed to the rpc before `closed`.
    child.once("close", (code, signal) => {
      const info: ExitInfo = { code, signal }
      runSync(Effect.zipRight(rpc.close(`codex app-server exited (${describeExit(info)})`), Deferred.succeed(exited, info)))
    })
    return { pid: child.pid ?? -1, rpc, exited, stderrTail: () => tail.join("\n") } satisfies AppServer
  })

/**
 * Closes stdin (Codex exits at once), then escalates to SIGTERM and SIGKILL by pid. It runs as a
 * finalizer, i.e. uninterruptibly: the wait is made interruptible, or its timeouts could not
 * interrupt it.
 */
const stop = (proc: ReturnType<typeof spawn>, exited: Deferred.Deferred<ExitInfo>) =>
  Effect.gen(function* () {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    proc.stdin?.end()
    const done = Effect.interruptible(Deferred.await(exited))
    const gone = yield* done.pipe(Effect.timeout("2 seconds"), Effect.option)
    if (gone._tag === "Some") return
    proc.kill("SIGTERM")
    const terminated = yield* done.pipe(Effect.timeout("2 seconds"), Effect.option)
    if (terminated._tag === "Some") return
    proc.kill("SIGKILL")
    yield* done.pipe(Effect.timeout("2 seconds"), Effect.ignore)
  })
