/**
 * A small settings file of OrbitDock's own (`notify.json`, `devices.json`): read whole at start and
 * checked against its schema, written whole on each change (a temporary file renamed over it, 0600).
 * A file that does not decode is moved aside, never overwritten: the person may want what was in it.
 */
import { Effect, Either, Schema } from "effect"
import * as fs from "node:fs"

/** The file's value, or `empty` when there is none or it cannot be used (`what` names it in the log). */
export const load = <A, I>(file: string, schema: Schema.Schema<A, I>, empty: A, what: string): Effect.Effect<A> =>
  Effect.gen(function* () {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        yield* Effect.logError(`cannot read ${file}; starting without ${what}`, error)
      }
      return empty
    }
    const decoded = Schema.decodeUnknownEither(Schema.parseJson(schema))(text)
    if (Either.isRight(decoded)) return decoded.right
    const aside = `${file}.unreadable-${Date.now()}`
    yield* Effect.logError(`${file} is not valid (${decoded.left.message.slice(0, 200)}); moved to ${aside}; starting without ${what}`)
    yield* Effect.sync(() => fs.renameSync(file, aside)).pipe(Effect.catchAllDefect(() => Effect.void))
    return empty
  })

export const save = <A, I>(file: string, schema: Schema.Schema<A, I>, value: A): Effect.Effect<void, Error> =>
  Effect.try({
    try: () => {
      const encoded = Schema.encodeSync(schema)(value)
      const temporary = `${file}.${process.pid}.tmp`
      fs.writeFileSync(temporary, `${JSON.stringify(encoded, null, 2)}\n`, { mode: 0o600 })
      fs.chmodSync(temporary, 0o600)
      fs.renameSync(temporary, file)
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })
