/**
 * The command line that runs this same OrbitDock again (for a service, or a server a client starts):
 * the single executable itself, or Node with the server's options and the script it was started
 * from. Never a token: a server finds it in its data directory.
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { SERVER_NODE_FLAGS } from "../nodeFlags.js"

/** Whether this process is OrbitDock's single executable (`npm run package`). */
export const isSingleExecutable = (): boolean => {
  try {
    return (createRequire(import.meta.url)("node:sea") as { isSea: () => boolean }).isSea()
  } catch {
    return false
  }
}

/** `[program, ...args]` that start `orbitdock` as this process was started (subcommand not included). */
export const selfCommand = (): ReadonlyArray<string> => {
  if (isSingleExecutable()) return [process.execPath]
  const script = process.argv[1]
  if (script === undefined) throw new Error("cannot tell which script started this process")
  return [process.execPath, ...SERVER_NODE_FLAGS, fs.realpathSync(script)]
}
