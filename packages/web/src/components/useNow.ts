import { useEffect, useState } from "react"

/** The time now, renewed every `everyMs` (relative times such as "5m" re-render with it). */
export const useNow = (everyMs: number): number => {
  const [now, setNow] = useState(() => Date.now())
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs)
    return () => clearInterval(timer)
  }, [everyMs])
  return now
}
