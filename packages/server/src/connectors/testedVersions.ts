/**
 * The agent CLI versions the connectors were tested with: the versions the end-to-end suites pin
 * (`e2e/codex`, `e2e/claude`; a unit test keeps these equal to those pins). `orbitdock doctor`
 * compares what is installed with them.
 */
export const TESTED_VERSIONS = {
  codex: "0.171.0",
  claude: "2.1.332"
} as const
