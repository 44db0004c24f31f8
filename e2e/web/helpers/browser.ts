/**
 * Debian's Chromium (never a downloaded browser) driven by playwright-core: headless, no sandbox
 * (root in CI), no background networking (the machine has no network), and a fresh profile per run.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { type BrowserContext, chromium } from "playwright-core"
import { repoRoot, tempDir } from "./server.js"

export const executablePath = process.env.ORBITDOCK_CHROMIUM ?? "/usr/bin/chromium"

export const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A browser with a new, empty user data dir; close it with `context.close()`. `phone`: 390×844, touch. */
export const launch = (
  options: { readonly colorScheme?: "light" | "dark"; readonly phone?: boolean; readonly userAgent?: string } = {}
): Promise<BrowserContext> =>
  chromium.launchPersistentContext(tempDir("orbitdock-chromium-"), {
    executablePath,
    headless: true,
    args: FLAGS,
    colorScheme: options.colorScheme ?? "light",
    ...(options.userAgent === undefined ? {} : { userAgent: options.userAgent }),
    ...(options.phone === true
      ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true }
      : { viewport: { width: 1280, height: 800 } })
  })

/** Where screenshots go (git-ignored): `packages/web/test-artifacts/`. */
export const artifactsDir = (): string => {
  const dir = path.join(repoRoot, "packages/web/test-artifacts")
  fs.mkdirSync(dir, { recursive: true })
  return dir
}
