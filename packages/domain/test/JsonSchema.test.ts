/**
 * The checked-in protocol.schema.json must be what the schemas generate. To refresh it after changing
 * a schema: `npm run -w @orbitdock/domain protocol:write`.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { protocolJsonSchema } from "../src/index.js"

const file = path.join(import.meta.dirname, "..", "protocol.schema.json")

describe("protocol.schema.json", () => {
  it("is in sync with the effect/Schema definitions", () => {
    const onDisk = JSON.parse(fs.readFileSync(file, "utf8"))
    expect(onDisk).toEqual(JSON.parse(JSON.stringify(protocolJsonSchema())))
  })
})
