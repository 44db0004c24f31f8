/**
 * The help pages' text. @effect/cli puts a generic line about each option's type ("A user-defined
 * piece of text.", "An integer.", "A true or false value.") above the option's own description; the
 * usage line already shows the type, so those lines only hide the descriptions. `withCleanHelp` runs
 * the CLI with a console that leaves them out (choices, "One of the following: …", are kept).
 */
import { Console, Effect } from "effect"

const TYPE_FILLER = /^ {2}(?:A user-defined piece of text\.|An integer\.|A true or false value\.)\n\n/gm

/** The rendered help without @effect/cli's generic type lines. */
export const withoutTypeFiller = (text: string): string => text.replace(TYPE_FILLER, "")

/** Runs `effect` with a console whose `log` drops the generic type lines from what it prints. */
export const withCleanHelp = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Console.consoleWith((console) =>
    Effect.withConsole(effect, {
      ...console,
      log: (...args: ReadonlyArray<unknown>) =>
        console.log(...args.map((a) => (typeof a === "string" ? withoutTypeFiller(a) : a)))
    })
  )
