/**
 * The environment of every process OrbitDock starts (agents, the browser): the server's own, less
 * OrbitDock's settings. `ORBITDOCK_TOKEN` in an agent's environment would hand the server's token to
 * every command the agent runs (and to whatever the model is told to print); the others
 * (`ORBITDOCK_DATA_DIR`, `ORBITDOCK_*_BIN`, …) are the server's business, not the agent's.
 */

const PREFIX = "ORBITDOCK_"

/** `env` without `ORBITDOCK_*` and without unset values. */
export const childEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.toUpperCase().startsWith(PREFIX)) out[key] = value
  }
  return out
}
