/**
 * A name for the device a page runs on, from its browser's user agent, for the devices list when
 * nobody gave one (`orbitdock pair --name` does): "iPhone · Safari", "Android · Chrome".
 */
const SYSTEMS: ReadonlyArray<readonly [RegExp, string]> = [
  [/iPhone/, "iPhone"],
  [/iPad/, "iPad"],
  [/Android/, "Android"],
  [/CrOS/, "Chromebook"],
  [/Macintosh|Mac OS X/, "Mac"],
  [/Windows/, "Windows"],
  [/Linux/, "Linux"]
]

// Order matters: Edge and Opera say Chrome too, Chrome says Safari too.
const BROWSERS: ReadonlyArray<readonly [RegExp, string]> = [
  [/Edg(A|iOS)?\//, "Edge"],
  [/OPR\//, "Opera"],
  [/Firefox\/|FxiOS\//, "Firefox"],
  [/Chrome\/|CriOS\//, "Chrome"],
  [/Safari\//, "Safari"]
]

export const deviceName = (userAgent: string): string => {
  const system = SYSTEMS.find(([pattern]) => pattern.test(userAgent))?.[1]
  const browser = BROWSERS.find(([pattern]) => pattern.test(userAgent))?.[1]
  return [system, browser].filter((part) => part !== undefined).join(" · ") || "browser"
}
