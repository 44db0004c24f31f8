/**
 * How the examples find the server: `ORBITDOCK_SOCKET` (a Unix socket, no token), else
 * `ORBITDOCK_URL` + `ORBITDOCK_TOKEN`, else the local defaults (`~/.orbitdock/server.sock`, or
 * `ws://127.0.0.1:4000/ws` with the token from `~/.orbitdock/token`).
 */
import { Client } from "@orbitdock/client-sdk"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const connectFromEnvironment = (options: Client.Options = {}): Promise<Client.Client> => {
  const env = process.env
  const dataDir = env.ORBITDOCK_DATA_DIR ?? path.join(os.homedir(), ".orbitdock")
  const defaultSocket = path.join(dataDir, "server.sock")
  const socketPath = env.ORBITDOCK_SOCKET ?? (env.ORBITDOCK_URL === undefined && fs.existsSync(defaultSocket) ? defaultSocket : undefined)
  if (socketPath !== undefined) return Client.connect({ ...options, socketPath })
  const tokenFile = path.join(dataDir, "token")
  const token = env.ORBITDOCK_TOKEN ?? (fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, "utf8").trim() : undefined)
  return Client.connect({ ...options, url: env.ORBITDOCK_URL ?? "ws://127.0.0.1:4000/ws", ...(token === undefined ? {} : { token }) })
}
