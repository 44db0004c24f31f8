/**
 * Scratch environments for running the real `codex` binary offline: a `CODEX_HOME` whose
 * `config.toml` points at the mock model, a `git init`-ed work directory, and the path of the native
 * binary from the pinned `@openai/codex` package. Scratch dirs live under `.scratch/` in this package
 * (git-ignored), not under /tmp: Codex refuses to create its helper binaries under a temporary dir.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
export const scratchRoot = path.join(packageDir, ".scratch")

/** The native binary inside the optional dependency (not the Node wrapper). */
export const nativeCodexBin = (): string => {
  const require = createRequire(path.join(packageDir, "package.json"))
  const pkg = require.resolve("@openai/codex-linux-x64/package.json")
  return path.join(path.dirname(pkg), "vendor", "x86_64-unknown-linux-musl", "bin", "codex")
}

/** The Node wrapper `node_modules/.bin/codex` (what a user's PATH usually holds). */
export const wrapperCodexBin = (): string => path.join(packageDir, "node_modules", ".bin", "codex")

export interface CodexEnv {
  readonly root: string
  readonly codexHome: string
  /** A fresh git repository to run sessions in. */
  readonly newWorkDir: (name: string) => string
  /** The environment a child codex (or OrbitDock) needs. */
  readonly env: Record<string, string>
  readonly remove: () => void
}

// Not ORBITDOCK_*: OrbitDock keeps its own settings out of the agents' environment.
export const API_KEY_ENV = "MOCK_RESPONSES_API_KEY"

/** Creates a scratch dir with a CODEX_HOME configured for the mock at `baseUrl`. */
export const makeCodexEnv = (name: string, baseUrl: string): CodexEnv => {
  fs.mkdirSync(scratchRoot, { recursive: true })
  const root = fs.mkdtempSync(path.join(scratchRoot, `${name}-`))
  const codexHome = path.join(root, "codex-home")
  const home = path.join(root, "home")
  fs.mkdirSync(codexHome, { recursive: true })
  fs.mkdirSync(home, { recursive: true })
  fs.writeFileSync(
    path.join(codexHome, "config.toml"),
    [
      `model = "gpt-5.5"`,
      `model_provider = "mock"`,
      `check_for_update_on_startup = false`,
      ``,
      `[model_providers.mock]`,
      `name = "Mock Responses API"`,
      `base_url = "${baseUrl}"`,
      `env_key = "${API_KEY_ENV}"`,
      `wire_api = "responses"`,
      `request_max_retries = 0`,
      `stream_max_retries = 0`,
      `stream_idle_timeout_ms = 30000`,
      ``,
      `[analytics]`,
      `enabled = false`,
      ``
    ].join("\n")
  )
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    CODEX_HOME: codexHome,
    [API_KEY_ENV]: "mock-key",
    RUST_LOG: "warn",
    NO_COLOR: "1"
  }
  let works = 0
  return {
    root,
    codexHome,
    env,
    newWorkDir: (label) => {
      const dir = path.join(root, `work-${label}-${++works}`)
      fs.mkdirSync(dir, { recursive: true })
      execFileSync("git", ["init", "-q", dir])
      return dir
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true })
  }
}
