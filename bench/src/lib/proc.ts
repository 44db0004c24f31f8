/**
 * Child processes driven over IPC: request/response by message type, one outstanding request per
 * reply type. The bench's clients and servers run in their own processes so that no two share an
 * event loop.
 */
import { fork, type ChildProcess } from "node:child_process"
import { cpuLimit } from "./cpuLimit.js"

export interface Proc {
  readonly child: ChildProcess
  /** Sends `message` and resolves with the next message whose type is one of `replies`. */
  readonly request: <T = Record<string, unknown>>(message: unknown, replies: ReadonlyArray<string>, timeoutMs?: number) => Promise<T>
  /** Resolves with the next message of one of these types. */
  readonly next: <T = Record<string, unknown>>(replies: ReadonlyArray<string>, timeoutMs?: number) => Promise<T>
  readonly kill: () => Promise<void>
  /** The child's first message (`{type: "up", …}`). */
  readonly up: Record<string, unknown>
}

interface Waiter {
  readonly types: ReadonlyArray<string>
  readonly resolve: (m: never) => void
}

/**
 * Starts a child process. `underTest`: a process whose speed is measured (OrbitDock's server, a
 * raw reference server): in the slow-machine mode it runs under the CPU limit (`cpuLimit.ts`).
 */
export const spawnProc = async (
  script: URL,
  args: ReadonlyArray<string> = [],
  execArgv: ReadonlyArray<string> = [],
  options: { readonly underTest?: boolean } = {}
): Promise<Proc> => {
  const child = fork(script, [...args], { execArgv: [...execArgv], stdio: ["ignore", "inherit", "inherit", "ipc"] })
  if (options.underTest === true && child.pid !== undefined) cpuLimit()?.place(child.pid)
  const waiters: Array<Waiter> = []
  const backlog: Array<{ type: string }> = []
  child.on("message", (m: { type: string }) => {
    const i = waiters.findIndex((w) => w.types.includes(m.type))
    if (i === -1) backlog.push(m)
    else waiters.splice(i, 1)[0]!.resolve(m as never)
  })
  let exited = false
  child.on("exit", () => (exited = true))
  const next = <T>(types: ReadonlyArray<string>, timeoutMs = 120_000): Promise<T> => {
    const j = backlog.findIndex((m) => types.includes(m.type))
    if (j !== -1) return Promise.resolve(backlog.splice(j, 1)[0] as T)
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${types.join("|")}`)), timeoutMs)
      waiters.push({ types, resolve: (m) => (clearTimeout(timer), resolve(m as T)) })
    })
  }
  const up = await next<Record<string, unknown>>(["up"])
  return {
    up,
    child,
    next,
    request: (message, types, timeoutMs) => {
      const reply = next(types, timeoutMs)
      child.send(message as never)
      return reply as never
    },
    kill: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve()
        child.once("exit", () => resolve())
        child.kill("SIGTERM")
      })
  }
}
