/**
 * The codex app-server process is tied to its scope: closing it stops the process even when it
 * ignores stdin's end and SIGTERM. A shell script that does both stands in for a hung codex.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { spawnAppServer } from "../../../src/connectors/codex/CodexProcess.js"

describe("the codex app-server's scope", () => {
  it.live("given a codex that ignores stdin's end and SIGTERM, when its scope closes, then SIGKILL ends it and the close returns", () =>
    Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "orbitdock-codex-hung-"))
      const bin = path.join(dir, "codex")
      fs.writeFileSync(bin, "#!/bin/sh\ntrap '' TERM\nexec sleep 60\n", { mode: 0o755 })
      const scope = yield* Scope.make()
      const server = yield* spawnAppServer({ binary: { path: bin, env: {} }, env: { PATH: process.env.PATH } }).pipe(Scope.extend(scope))
      const startedAt = Date.now()
      yield* Scope.close(scope, Exit.void)
      const exit = yield* server.exited
      expect(exit.signal).toBe("SIGKILL")
      expect(Date.now() - startedAt).toBeLessThan(10_000)
      fs.rmSync(dir, { recursive: true, force: true })
    }))
})
