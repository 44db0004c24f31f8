/**
 * How the page gets its token without leaving it in the URL bar: `orbitdock open` prints
 * `/?token=…`; the page reads it once, keeps it in sessionStorage (per tab, gone when the tab closes)
 * and rewrites the URL without it. Pure part (`split`) unit-tested in `test/token.test.ts`.
 */

const KEY = "orbitdock.token"

/** The `token` query parameter of a URL and the same URL without it. */
export const split = (href: string): { readonly token: string | null; readonly cleanHref: string } => {
  const url = new URL(href)
  const token = url.searchParams.get("token")
  if (token === null) return { token: null, cleanHref: href }
  url.searchParams.delete("token")
  return { token: token.trim() === "" ? null : token.trim(), cleanHref: url.toString() }
}

/** Takes the token from the URL (then removes it from the address bar) or from sessionStorage. */
export const load = (): string | null => {
  const { token, cleanHref } = split(window.location.href)
  if (token !== null) {
    try {
      window.sessionStorage.setItem(KEY, token)
    } catch {
      // Storage refused (privacy mode): the token still lives in memory for this page.
    }
    window.history.replaceState(window.history.state, "", cleanHref)
    return token
  }
  try {
    return window.sessionStorage.getItem(KEY)
  } catch {
    return null
  }
}

/** Stores a token pasted by the user. */
export const save = (token: string): void => {
  try {
    window.sessionStorage.setItem(KEY, token.trim())
  } catch {
    // see load()
  }
}

/** Forgets a token the server refused. */
export const forget = (): void => {
  try {
    window.sessionStorage.removeItem(KEY)
  } catch {
    // see load()
  }
}
