/**
 * `orbitdock open`: opens the web page signed in, without the token ever being in a command line
 * (every local user can read those in `ps` and /proc/<pid>/cmdline). It writes
 * `<data-dir>/open.html` (mode 0600, in the 0700 data dir) that forwards to the page with the token
 * in the URL's fragment (`/#token=…`; a fragment is never sent to a server nor in a Referer, and
 * the page drops it from the address bar at once), and starts `$BROWSER` on that file. Without a
 * browser it prints the URL with the token for the user to open; a missing or failing browser is
 * never an error. The token only goes to a server that proved to be this data dir's (`--url`
 * excepted: the user named it).
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { childEnv } from "../internal/childEnv.js"
import * as Discovery from "./Discovery.js"
import { CliError } from "./ServerClient.js"
import { dataDirOption, startIfAsked, startOption, tokenFlagWarning } from "./Shared.js"

/** The page URL for a server base URL, with the token in the fragment when there is one. */
export const pageUrl = (baseUrl: string, token: string | null): string => {
  const base = baseUrl.replace(/\/+$/, "")
  return token === null ? `${base}/` : `${base}/#token=${encodeURIComponent(token)}`
}

/** The forwarding page's path in a data directory. */
export const openFilePath = (dataDir: string): string => path.join(dataDir, "open.html")

const escapeHtml = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** A page that forwards at once to `target` (and sends no Referer from this file). */
export const forwardingPage = (target: string): string =>
  [
    "<!doctype html>",
    '<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>OrbitDock</title>',
    // `<` escaped so that no value can end the script element.
    `<script>location.replace(${JSON.stringify(target).replace(/</g, "\\u003c")})</script>`,
    `</head><body><a href="${escapeHtml(target)}">Open OrbitDock</a></body></html>`,
    ""
  ].join("\n")

/** Writes the forwarding page with mode 0600 whatever the umask, replacing an older one. */
export const writeForwardingPage = (dataDir: string, target: string): string => {
  const file = openFilePath(dataDir)
  const temp = `${file}.${process.pid}.tmp`
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  fs.writeFileSync(temp, forwardingPage(target), { mode: 0o600 })
  fs.chmodSync(temp, 0o600)
  fs.renameSync(temp, file)
  return file
}

const readToken = (dataDir: string): string | null => {
  try {
    const token = fs.readFileSync(path.join(dataDir, "token"), "utf8").trim()
    return token === "" ? null : token
  } catch {
    return null
  }
}

/** Starts `$BROWSER <file URL>` detached; whether it started (a missing binary fails asynchronously). */
const startBrowser = (browser: string, url: string): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    try {
      const child = childProcess.spawn(browser, [url], { detached: true, stdio: "ignore", env: childEnv(process.env) })
      child.once("error", () => resume(Effect.succeed(false)))
      child.once("spawn", () => {
        child.unref()
        resume(Effect.succeed(true))
      })
    } catch {
      resume(Effect.succeed(false))
    }
  })

/** The base URL to open: `--url`, else the running server's once it proved to be that server. */
const baseUrlOf = (dataDir: string, url: Option.Option<string>) =>
  Effect.gen(function* () {
    if (Option.isSome(url)) return url.value
    const found = yield* Discovery.discoverVerified(dataDir)
    if (found._tag === "Running") return found.file.url
    if (found._tag === "Stale") yield* Console.error(`orbitdock: ${Discovery.staleMessage(dataDir, found.reason)}`)
    return yield* Effect.fail(
      new CliError({ message: `no OrbitDock server is running on ${dataDir}: start one with \`orbitdock serve\`, or pass --url` })
    )
  })

export const command = Command.make(
  "open",
  {
    dataDir: dataDirOption,
    url: Options.text("url").pipe(
      Options.optional,
      Options.withDescription("The server's HTTP URL (default: the one the running server recorded in <data-dir>/server.json)")
    ),
    token: Options.text("token").pipe(
      Options.optional,
      Options.withDescription("Token (default: ORBITDOCK_TOKEN or <data-dir>/token); visible to every local user in ps, prefer those")
    ),
    start: startOption,
    noBrowser: Options.boolean("no-browser").pipe(Options.withDescription("Only print the URL (with the token), even when $BROWSER is set"))
  },
  (flags) =>
    Effect.gen(function* () {
      yield* tokenFlagWarning(flags.token)
      const dataDir = path.resolve(flags.dataDir)
      yield* startIfAsked(flags.start && Option.isNone(flags.url), dataDir)
      const fromEnv = process.env.ORBITDOCK_TOKEN?.trim()
      const token = Option.getOrNull(flags.token) ?? (fromEnv === undefined || fromEnv === "" ? null : fromEnv) ?? readToken(dataDir)
      const baseUrl = yield* baseUrlOf(dataDir, flags.url)
      if (token === null) {
        yield* Console.error(`orbitdock: no token found in ${path.join(dataDir, "token")} (start the server once, or set ORBITDOCK_TOKEN)`)
      }
      const target = pageUrl(baseUrl, token)
      const browser = process.env.BROWSER?.trim()
      if (!flags.noBrowser && browser !== undefined && browser !== "") {
        const file = yield* Effect.try({
          try: () => writeForwardingPage(dataDir, target),
          catch: (e) => new CliError({ message: `cannot write ${openFilePath(dataDir)}: ${e instanceof Error ? e.message : String(e)}` })
        })
        if (yield* startBrowser(browser, pathToFileURL(file).href)) {
          return yield* Console.log(`opening ${pageUrl(baseUrl, null)} in ${browser}`)
        }
        yield* Console.error(`orbitdock: could not start $BROWSER (${browser}); open the URL below yourself`)
      }
      // The user's own terminal: the result of the command when no browser opens it.
      yield* Console.log(target)
    })
).pipe(Command.withDescription("Open the web page signed in (in $BROWSER, through a 0600 file in the data dir), or print its URL with the token"))
