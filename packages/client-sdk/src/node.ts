/**
 * The Node entry: everything the browser entry has, with the `ws` transport registered as the
 * default (headers, Unix sockets). Selected by the `node` export condition.
 */
import * as NodeTransport from "./NodeTransport.js"
import * as Transport from "./Transport.js"

Transport.setDefault(NodeTransport.transport)

export * from "./index.js"
export * as NodeTransport from "./NodeTransport.js"
export * as ServerManager from "./ServerManager.js"
