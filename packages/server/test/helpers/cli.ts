/**
 * The built `orbitdock` command (`dist/bundle/bin.js`, what `npm install -g` would run) for CLI
 * tests: run to completion against a data directory, without ORBITDOCK_TOKEN from the test's own
 * environment (a client finds the server through the data directory, as a person's would).
 */
import { spawnSync } from "node:child_process"
import * as path from "node:path"

export const bundle = path.resolve(import.meta.dirname, "../../dist/bundle/bin.js")

/** The command's environment: this process's, less ORBITDOCK_TOKEN, plus `extra`. */
export const cliEnv = (extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv => {
  const { ORBITDOCK_TOKEN: _token, ...env } = process.env
  return { ...env, ...extra }
}

/** Runs `orbitdock <args> --data-dir <dataDir>` to completion. */
export const runCli = (dataDir: string, args: ReadonlyArray<string>, extraEnv: Readonly<Record<string, string>> = {}) =>
  spawnSync(process.execPath, [bundle, ...args, "--data-dir", dataDir], { env: cliEnv(extraEnv), encoding: "utf8" })
