/**
 * What the fuzz test throws at a server (fast-check arbitraries): client messages of every type
 * with right and wrong values in every field (wrong types, huge numbers and strings, non-JSON values
 * and extension types in msgpack), hand-made frames (deep nesting, truncated or lying msgpack,
 * extension bytes, oversized frames, random bytes), and HTTP requests to every route (hook bodies
 * included). Messages are kept as values and encoded when sent, so that valid ids can be unique
 * and session ids can name sessions the run created.
 */
import { MAX_FRAME_BYTES } from "@orbitdock/domain"
import * as fc from "fast-check"
import { Packr } from "msgpackr"

/** Stands for a fresh, valid id (the test then expects exactly one reply with it). */
export const FRESH_ID = Symbol("fresh id")
/** Stands for a session id the run knows (created by the fuzz client), picked by index. */
export class KnownSession {
  constructor(readonly index: number) {}
}

export type Encoding = "json" | "msgpack"

export type WsInput =
  /** A message object, encoded when sent (placeholders replaced at the top level). */
  | { readonly _tag: "message"; readonly encoding: Encoding; readonly message: Record<string, unknown>; readonly packer: Packer }
  /** Bytes or text made by hand; `idIn` replaces `\u0000ID\u0000` in a JSON text. */
  | { readonly _tag: "raw"; readonly encoding: Encoding; readonly data: string | Buffer; readonly note: string }

export type Packer = "plain" | "extensions" | "records" | "clone" | "bundled"

export interface HttpInput {
  readonly method: string
  /** May hold `\u0000S\u0000`, replaced by a known session id. */
  readonly path: string
  readonly accept: string
  readonly body?: string | Buffer
}

const ABSENT = Symbol("absent")

// ── Values ─────────────────────────────────────────────────────────────────────────────────────

const hugeNumbers = fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 2 ** 64, 5e-324, -0, 4294967296.5)
const hugeString = fc.constantFrom(10_000, 100_000, 400_000).map((n) => "ß".repeat(n))
/** Values of any JSON type, some large. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: hugeNumbers },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 30 }) },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: fc.array(fc.integer(), { maxLength: 2000 }) },
  { weight: 1, arbitrary: fc.constantFrom({ __proto__: { polluted: true } }, { constructor: { prototype: { x: 1 } } }, [[[[[]]]]]) }
)
/** Values JSON cannot carry, which only msgpack can send. */
const nonJson: fc.Arbitrary<unknown> = fc.constantFrom(
  2n ** 100n,
  -(2n ** 70n),
  12n,
  new Date(0),
  new Date(8.64e15),
  new Set([1, 2]),
  new Map<unknown, unknown>([[1, "a"]]),
  /re(g)ex/gi,
  new Error("boom"),
  new Uint8Array([1, 2, 3]),
  new Float64Array([1.5]),
  Buffer.from("bin"),
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  undefined
)
const wrongValue = (encoding: Encoding): fc.Arbitrary<unknown> =>
  encoding === "json" ? anyJson : fc.oneof({ weight: 3, arbitrary: anyJson }, { weight: 1, arbitrary: nonJson })

/** What the sim understands, over and under its limits, and plain text. */
export const simContent: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "/burst 0",
      "/burst 3",
      "/burst 40",
      "/burst 100001",
      "/burst 99999999999999999999999",
      "/burst -1",
      "/exec make deploy",
      "/ask which one?",
      "/sleep 5",
      "/sleep 99999999999999",
      "/sleep",
      "hello"
    )
  },
  { weight: 1, arbitrary: fc.nat({ max: 30 }).map((n) => `/burst ${n}`) },
  { weight: 1, arbitrary: hugeString }
)

const sessionIdValue = fc.oneof(
  { weight: 5, arbitrary: fc.nat({ max: 1000 }).map((i) => new KnownSession(i)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom("", "../../etc/passwd", "%00", "x".repeat(5000)) }
)

/** The right kind of value for each field of each client message type. */
const fields: Record<string, Record<string, fc.Arbitrary<unknown>>> = {
  subscribe_list: {},
  unsubscribe_list: {},
  subscribe_session: { session_id: sessionIdValue, since_revision: fc.oneof(fc.nat({ max: 100 }), hugeNumbers, fc.integer()) },
  unsubscribe_session: { session_id: sessionIdValue },
  create_session: {
    provider: fc.oneof({ weight: 6, arbitrary: fc.constant("sim") }, { weight: 1, arbitrary: fc.constantFrom("claude", "codex", "gemini") }),
    cwd: fc.oneof(fc.constantFrom("/tmp", "/", "relative", ""), fc.string({ maxLength: 30 })),
    model: fc.string({ maxLength: 20 }),
    prompt: simContent,
    approval_policy: fc.constantFrom("untrusted", "on-request", "never", "always"),
    sandbox: fc.constantFrom("read-only", "workspace-write", "danger-full-access", "none")
  },
  send_message: { session_id: sessionIdValue, content: simContent },
  approve_tool: {
    session_id: sessionIdValue,
    request_id: fc.oneof(fc.string({ maxLength: 12 }), fc.constant("req_1")),
    approved: fc.boolean(),
    scope: fc.constantFrom("once", "session", "forever")
  },
  answer_question: { session_id: sessionIdValue, request_id: fc.string({ maxLength: 12 }), answer: fc.string({ maxLength: 30 }) },
  interrupt_session: { session_id: sessionIdValue },
  end_session: { session_id: sessionIdValue }
}
export const clientTypes = Object.keys(fields)

const idValue = (encoding: Encoding): fc.Arbitrary<unknown> =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(FRESH_ID) },
    { weight: 2, arbitrary: fc.constant(ABSENT) },
    { weight: 1, arbitrary: fc.constantFrom(null, 42, -1, true, "", "i".repeat(129), "i".repeat(100_000)) },
    { weight: 1, arbitrary: wrongValue(encoding) }
  )

const typeValue = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...clientTypes) },
  { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), anyJson) },
  { weight: 1, arbitrary: fc.constant(ABSENT) }
)

/** One field: mostly right, often wrong, sometimes missing. */
const fieldValue = (right: fc.Arbitrary<unknown>, encoding: Encoding) =>
  fc.oneof({ weight: 6, arbitrary: right }, { weight: 2, arbitrary: wrongValue(encoding) }, { weight: 1, arbitrary: fc.constant(ABSENT) })

const message = (encoding: Encoding): fc.Arbitrary<WsInput> =>
  typeValue.chain((type) => {
    const known = typeof type === "string" ? fields[type] : undefined
    const shape: Record<string, fc.Arbitrary<unknown>> = { type: fc.constant(type), id: idValue(encoding) }
    for (const [name, right] of Object.entries(known ?? fields.send_message)) shape[name] = fieldValue(right, encoding)
    const extra = fc.dictionary(fc.string({ maxLength: 8 }), wrongValue(encoding), { maxKeys: 2 })
    const packer: fc.Arbitrary<Packer> = encoding === "json" ? fc.constant("plain") : fc.constantFrom("plain", "plain", "plain", "extensions")
    return fc.tuple(fc.record(shape), extra, packer).map(([record, more, chosenPacker]): WsInput => {
      const result: Record<string, unknown> = { ...more }
      for (const [key, value] of Object.entries(record)) if (value !== ABSENT) result[key] = value
      return { _tag: "message", encoding, message: result, packer: chosenPacker }
    })
  })

// ── Hand-made frames ───────────────────────────────────────────────────────────────────────────

// 100,000 is the 200 KB frame that ended the server.
const depth = fc.constantFrom(65, 1000, 100_000, 200_000)

const packPlain = new Packr({ useRecords: false })
const str = (s: string) => Buffer.from(packPlain.pack(s))

const raw = (encoding: Encoding, note: string, data: string | Buffer): WsInput => ({ _tag: "raw", encoding, data, note })

const jsonRaw: fc.Arbitrary<WsInput> = fc.oneof(
  depth.map((d) => raw("json", `id nested ${d}`, `{"type":"subscribe_list","id":${"[".repeat(d)}${"]".repeat(d)}}`)),
  depth.map((d) => raw("json", `field nested ${d}`, `{"type":"send_message","id":"\u0000ID\u0000","session_id":"s","content":${"[{\"a\":".repeat(d / 5)}1${"}]".repeat(d / 5)}}`)),
  depth.map((d) => raw("json", `top nested ${d}`, `${"[".repeat(d)}${"]".repeat(d)}`)),
  fc.constantFrom(
    "{",
    "",
    "null",
    "[]",
    '"subscribe_list"',
    "1e999",
    '{"type":"subscribe_list","id":1e999}',
    '{"type":"subscribe_session","id":"\u0000ID\u0000","session_id":"s","since_revision":1e999}',
    '{"type":"send_message","id":"\u0000ID\u0000","session_id":"s","content":"\\ud800"}',
    '{"type":"subscribe_list","type":"end_session","id":"\u0000ID\u0000"}',
    '{"__proto__":{"type":"subscribe_list"},"id":"\u0000ID\u0000"}'
  ).map((text) => raw("json", "text", text)),
  fc.string({ unit: "binary", maxLength: 200 }).map((text) => raw("json", "random text", text)),
  fc.constantFrom(1, 1000, 300_000).map((extra) => raw("json", `${MAX_FRAME_BYTES + extra} bytes`, `{"type":"send_message","pad":"${"x".repeat(MAX_FRAME_BYTES + extra)}"}`))
)

const msgpackRaw: fc.Arbitrary<WsInput> = fc.oneof(
  depth.map((d) =>
    raw("msgpack", `id nested ${d}`, Buffer.concat([Buffer.from([0x82]), str("type"), str("subscribe_list"), str("id"), Buffer.alloc(d, 0x91), Buffer.from([0xc0])]))
  ),
  depth.map((d) => raw("msgpack", `top nested ${d}`, Buffer.concat([Buffer.alloc(d, 0x81 /* {…: */), Buffer.from([0xc0])]))),
  // The frame that ended the server: a BigInt id.
  fc.constant(raw("msgpack", "bigint id", Buffer.from(new Packr({ useRecords: false, useBigIntExtension: true }).pack({ type: "subscribe_list", id: 2n ** 100n })))),
  fc.tuple(fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8), fc.integer({ min: -128, max: 127 }), fc.uint8Array({ minLength: 16, maxLength: 16 })).map(([token, type, payload]) => {
    const size = { 0xd4: 1, 0xd5: 2, 0xd6: 4, 0xd7: 8, 0xd8: 16 }[token]!
    const ext = Buffer.concat([Buffer.from([token, type & 0xff]), Buffer.from(payload.subarray(0, size))])
    return raw("msgpack", `fixext ${type}`, Buffer.concat([Buffer.from([0x82]), str("type"), str("subscribe_list"), str("id"), ext]))
  }),
  fc.constantFrom(
    Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), // an array claiming 4 billion elements
    Buffer.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61]), // a string claiming 4 GiB
    Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61]), // a map claiming 4 billion pairs
    Buffer.from([0xc1]),
    Buffer.from([0xc7, 0x05, 0x72, 1, 2, 3, 4, 5]), // ext8: a record definition
    Buffer.from([0x82, 0xa4, 0x74, 0x79, 0x70, 0x65]) // truncated
  ).map((bytes) => raw("msgpack", "lying bytes", bytes)),
  fc.constantFrom<Packer>("records", "clone", "bundled").map((packer): WsInput => ({
    _tag: "message",
    encoding: "msgpack",
    message: { type: "subscribe_list", id: FRESH_ID, text: "a longer string that gets bundled ".repeat(4) },
    packer
  })),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => raw("msgpack", "random bytes", Buffer.from(bytes))),
  fc.constantFrom(1, 300_000).map((extra) => raw("msgpack", `${MAX_FRAME_BYTES + extra} bytes`, Buffer.alloc(MAX_FRAME_BYTES + extra, 0xc0)))
)

/** One WebSocket input: mostly messages, some hand-made frames; rarely one past the 2 MiB cut-off. */
export const wsInput: fc.Arbitrary<WsInput> = fc.oneof(
  { weight: 100, arbitrary: message("json") },
  { weight: 100, arbitrary: message("msgpack") },
  { weight: 30, arbitrary: jsonRaw },
  { weight: 30, arbitrary: msgpackRaw },
  { weight: 1, arbitrary: fc.constant(raw("json", "past the cut-off", Buffer.alloc(2 * MAX_FRAME_BYTES + 1, 0x20))) }
)

/** Encodes a message input (placeholders already replaced). */
export const encodeMessage = (input: Extract<WsInput, { _tag: "message" }>, message: Record<string, unknown>): string | Buffer => {
  if (input.encoding === "json") return JSON.stringify(message)
  const packr =
    input.packer === "extensions"
      ? new Packr({ useRecords: false, useBigIntExtension: true, moreTypes: true })
      : input.packer === "records"
        ? new Packr({ useRecords: true })
        : input.packer === "clone"
          ? new Packr({ useRecords: false, structuredClone: true })
          : input.packer === "bundled"
            ? new Packr({ useRecords: false, bundleStrings: true })
            : packPlain
  return Buffer.from(packr.pack(message))
}

// ── HTTP ───────────────────────────────────────────────────────────────────────────────────────

const hookNames = [
  "SessionStart",
  "UserPromptSubmit",
  "PreToolUse",
  "PermissionRequest",
  "PostToolUse",
  "Stop",
  "SessionEnd",
  "SubagentStart",
  "SubagentStop",
  "Notification"
]

/** A hook field: mostly a right value (so that hooks reach what they act on), sometimes wrong or missing. */
const hookField = (right: fc.Arbitrary<unknown>) =>
  fc.oneof({ weight: 6, arbitrary: right }, { weight: 1, arbitrary: anyJson }, { weight: 2, arbitrary: fc.constant(ABSENT) })

const hookBody: fc.Arbitrary<string> = fc
  .record({
    hook_event_name: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...hookNames) }, { weight: 1, arbitrary: anyJson }),
    // A few Claude session ids, so that hooks meet sessions earlier hooks created.
    session_id: fc.oneof({ weight: 8, arbitrary: fc.constantFrom("c-1", "c-2", "c-3") }, { weight: 1, arbitrary: anyJson }),
    cwd: hookField(fc.constantFrom("/tmp", "/", "relative")),
    transcript_path: hookField(fc.constantFrom("/tmp/none.jsonl", "/etc/passwd", "relative.jsonl")),
    prompt_id: hookField(fc.string({ maxLength: 8 })),
    tool_name: hookField(fc.constantFrom("Bash", "Write")),
    tool_input: hookField(fc.oneof(fc.jsonValue({ maxDepth: 5 }), hugeString)),
    permission_suggestions: hookField(fc.constant([{ type: "addRules" }])),
    reason: hookField(fc.string({ maxLength: 10 })),
    source: hookField(fc.constantFrom("startup", "resume")),
    model: hookField(fc.string({ maxLength: 10 })),
    agent_transcript_path: hookField(fc.constant("/tmp/agent.jsonl"))
  })
  .map((record) => JSON.stringify(Object.fromEntries(Object.entries(record).filter(([, value]) => value !== ABSENT))))

const queryValue = fc.oneof(
  fc.nat({ max: 50 }).map(String),
  fc.constantFrom("-1", "1.5", "1e999", "99999999999999999999", "abc", "", "%", "%zz", "NaN"),
  fc.string({ maxLength: 10 }).map(encodeURIComponent)
)

const hookRequest = fc.oneof(
  { weight: 8, arbitrary: hookBody },
  { weight: 1, arbitrary: depth.map((d) => `{"session_id":"c-1","hook_event_name":"PostToolUse","tool_input":${"[".repeat(d)}${"]".repeat(d)}}`) },
  { weight: 1, arbitrary: fc.constantFrom("{", "null", "[]", '"x"', '{"session_id":"c-1","hook_event_name":"Stop","n":1e999}', "x".repeat(MAX_FRAME_BYTES + 10)) }
)

/** One HTTP request to one of the routes (or a path that is none of them). */
export const httpInput: fc.Arbitrary<HttpInput> = fc.oneof(
  { weight: 30, arbitrary: hookRequest.map((body): HttpInput => ({ method: "POST", path: "/hook", accept: "*/*", body })) },
  { weight: 5, arbitrary: fc.constant<HttpInput>({ method: "GET", path: "/health", accept: "application/json" }) },
  { weight: 5, arbitrary: fc.tuple(queryValue, queryValue).map(([s, p]): HttpInput => ({ method: "GET", path: `/api/sessions?status=${s}&provider=${p}`, accept: "*/*" })) },
  {
    weight: 10,
    arbitrary: fc
      .tuple(fc.oneof(fc.constant("\u0000S\u0000"), fc.string({ maxLength: 10 }).map(encodeURIComponent), fc.constantFrom("%", "%E0%A4%A", "..")), queryValue, queryValue, fc.boolean())
      .map(([id, a, b, events]): HttpInput => ({
        method: "GET",
        path: events ? `/api/sessions/${id}/events?after=${a}&limit=${b}` : `/api/sessions/${id}?at_revision=${a}`,
        accept: "*/*"
      }))
  },
  { weight: 1, arbitrary: fc.constantFrom<HttpInput>({ method: "GET", path: "/api/protocol.json", accept: "*/*" }, { method: "GET", path: "/metrics", accept: "*/*" }) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(
        fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
        fc.constantFrom("/", "/ws", "/hook", "/api/sessions", "/assets/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/index.html", "/nope", "//", "/assets/x.js"),
        fc.constantFrom("text/html", "application/json", "*/*"),
        fc.oneof(fc.constant(undefined), fc.constantFrom("{}", "x"))
      )
      .map(([method, path, accept, body]): HttpInput => ({ method, path, accept, ...(body === undefined ? {} : { body }) }))
  }
)
