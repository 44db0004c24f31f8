/**
 * A driven session's `claude` process is tied to a scope: closing it stops the process (stdin
 * closed, then SIGTERM, then SIGKILL) and returns once it is gone. Real processes stand in for
 * claude here: `cat` ends when its stdin does; a `sleep` that ignores SIGTERM needs SIGKILL.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { spawnStreamJson } from "../../../src/connectors/claude/HeadlessProcess.js"

const spawnIn = (scope: Scope.CloseableScope, bin: string, args: ReadonlyArray<string>) =>
  spawnStreamJson(bin, args, process.cwd(), { PATH: process.env.PATH }).pipe(Scope.extend(scope))

describe("a headless process's scope", () => {
  it.live("given a process that ends with its stdin, when its scope closes, then it is gone once the close returns", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const spawned = yield* spawnIn(scope, "cat", [])
      expect(spawned.proc.exitCode).toBeNull()
      yield* Scope.close(scope, Exit.void)
      expect(spawned.proc.exitCode).toBe(0)
    }))

  it.live("given a process that ignores SIGTERM, when its scope closes, then SIGKILL ends it", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const spawned = yield* spawnIn(scope, "/bin/sh", ["-c", "trap '' TERM; exec sleep 60"])
      yield* Scope.close(scope, Exit.void)
      expect(spawned.proc.signalCode).toBe("SIGKILL")
    }))

  it.live("given a binary that does not exist, when its scope closes, then nothing waits", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const spawned = yield* spawnIn(scope, "/nonexistent/claude", [])
      const end = yield* spawned.lines.take
      expect(end).toBeNull()
      yield* Scope.close(scope, Exit.void).pipe(Effect.timeout("1 second"))
    }))
})
