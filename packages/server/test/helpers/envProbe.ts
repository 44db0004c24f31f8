/**
 * A stand-in executable that reports the environment it was started with: it sends
 * `process.env` as JSON to the test over a Unix socket, then waits on stdin (so whoever started it
 * can stop it as it stops the real thing). Used to check what OrbitDock hands to the processes it spawns.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"

export interface EnvProbe {
  /** The executable to spawn. */
  readonly bin: string
  /** The environment of the first process that ran it. */
  readonly received: Promise<Record<string, string>>
  readonly close: () => void
}

export const makeEnvProbe = async (dir: string): Promise<EnvProbe> => {
  const socket = path.join(dir, `probe-${process.pid}-${Math.random().toString(36).slice(2)}.sock`)
  const bin = `${socket}.cjs`
  fs.writeFileSync(
    bin,
    [
      `#!${process.execPath}`,
      // Stdin is watched only once the report is sent: a browser's stdin is /dev/null, which ends at once.
      `require("node:net").connect(${JSON.stringify(socket)}).end(JSON.stringify(process.env), () =>`,
      `  process.stdin.on("data", () => {}).on("end", () => process.exit(0)))`,
      ""
    ].join("\n"),
    { mode: 0o755 }
  )
  let resolve: (env: Record<string, string>) => void = () => {}
  const received = new Promise<Record<string, string>>((r) => (resolve = r))
  const server = net.createServer((connection) => {
    let text = ""
    connection.on("data", (chunk) => (text += chunk.toString()))
    connection.on("end", () => resolve(JSON.parse(text)))
  })
  await new Promise<void>((r) => server.listen(socket, r))
  return { bin, received, close: () => server.close() }
}
