/**
 * `orbitdock open`: prints the web page's URL with the token (`http://127.0.0.1:4000/?token=…`), so
 * one click opens an authenticated page (the page moves the token out of the URL bar at once). When a
 * browser is configured (`$BROWSER`) it is started with the URL; a missing or failing browser is
 * never an error: the printed URL is the result.
 */
import { Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as childProcess from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { readServerFile } from "./Discovery.js"
import { dataDirOption } from "./Shared.js"

/** The page URL for a server base URL and token. */
export const pageUrl = (baseUrl: string, token: string | null): string => {
  const base = baseUrl.replace(/\/+$/, "")
  return token === null ? `${base}/` : `${base}/?token=${encodeURIComponent(token)}`
}

const readToken = (dataDir: string): string | null => {
  const file = path.join(dataDir, "token")
  try {
    const token = fs.readFileSync(file, "utf8").trim()
    return token === "" ? null : token
  } catch {
    return null
  }
}

/** Starts `$BROWSER <url>` detached; reports whether it could be started (never throws). */
const startBrowser = (browser: string, url: string): boolean => {
  try {
    const child = childProcess.spawn(browser, [url], { detached: true, stdio: "ignore" })
    child.on("error", () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}

export const command = Command.make(
  "open",
  {
    dataDir: dataDirOption,
    url: Options.text("url").pipe(
      Options.optional,
      Options.withDescription("The server's HTTP URL (default: the running server's, else http://127.0.0.1:4000)")
    ),
    token: Options.text("token").pipe(Options.optional, Options.withDescription("Token (default: ORBITDOCK_TOKEN or <data-dir>/token)")),
    noBrowser: Options.boolean("no-browser").pipe(Options.withDescription("Only print the URL, even when $BROWSER is set"))
  },
  (flags) =>
    Effect.gen(function* () {
      const token = Option.getOrNull(flags.token) ?? process.env.ORBITDOCK_TOKEN?.trim() ?? readToken(path.resolve(flags.dataDir))
      const dataDir = path.resolve(flags.dataDir)
      const baseUrl = Option.getOrNull(flags.url) ?? readServerFile(dataDir)?.url ?? "http://127.0.0.1:4000"
      const url = pageUrl(baseUrl, token)
      yield* Console.log(url)
      if (token === null) yield* Console.error(`orbitdock: no token found in ${path.join(path.resolve(flags.dataDir), "token")} (start the server once, or pass --token)`)
      const browser = process.env.BROWSER?.trim()
      if (!flags.noBrowser && browser !== undefined && browser !== "" && !startBrowser(browser, url)) {
        yield* Console.error(`orbitdock: could not start $BROWSER (${browser}); open the URL above yourself`)
      }
    })
).pipe(Command.withDescription("Print the web page's URL with the token (and open it in $BROWSER when set)"))
