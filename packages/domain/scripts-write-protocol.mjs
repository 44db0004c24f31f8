// Regenerates protocol.schema.json from the built schemas (run after `tsc -b`).
import * as fs from "node:fs"
import { protocolJsonSchema } from "./dist/index.js"
fs.writeFileSync(new URL("./protocol.schema.json", import.meta.url), JSON.stringify(protocolJsonSchema(), null, 2) + "\n")
