/**
 * The parts of the server the bench drives directly. `@orbitdock/server` exports no barrel, so these
 * are the compiled modules (built by `npm run build` before the bench runs).
 */
export * as Config from "../../../packages/server/dist/Config.js"
export * as Layers from "../../../packages/server/dist/Layers.js"
export * as Logging from "../../../packages/server/dist/Logging.js"
export * as Sim from "../../../packages/server/dist/connectors/Sim.js"
export * as EventLogSqlite from "../../../packages/server/dist/eventlog/EventLogSqlite.js"
export * as SnapshotStore from "../../../packages/server/dist/eventlog/snapshotStore.js"
export { RECENT_EVENTS } from "../../../packages/server/dist/SessionActor.js"
export { HttpTransport } from "../../../packages/server/dist/http/HttpTransport.js"
export type { ConnectorHost, ConnectorFactory, EventInput } from "../../../packages/server/dist/connectors/Connector.js"
export { EventLog } from "../../../packages/server/dist/eventlog/EventLog.js"
export { SERVER_NODE_FLAGS } from "../../../packages/server/dist/nodeFlags.js"
