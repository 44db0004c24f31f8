/**
 * The conversation, virtualized: only the messages in view are in the DOM (a 5,000-message session
 * stays fast), with row heights measured as they render. Follows the end while the user is at the
 * bottom; scrolling up stops following until they come back down.
 */
import type { Message } from "@orbitdock/domain"
import { useVirtualizer } from "@tanstack/react-virtual"
import { useEffect, useLayoutEffect, useRef, useState } from "react"
import { MessageView } from "./MessageView.js"

const NEAR_BOTTOM_PX = 48

export const Conversation = ({ messages, follow }: { messages: ReadonlyArray<Message>; follow: boolean }) => {
  const scroller = useRef<HTMLDivElement>(null)
  const [atBottom, setAtBottom] = useState(true)
  const virtualizer = useVirtualizer({
    count: messages.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => 72,
    overscan: 6,
    getItemKey: (index) => messages[index].id
  })
  const last = messages[messages.length - 1]

  // New or growing messages while at the bottom (and rows measured taller than estimated): stay at
  // the bottom, once per frame, by setting `scrollTop` in the frame callback, where the layout it
  // needs is the one the frame does anyway. Not with `scrollToIndex`: a scroll command keeps the
  // virtualizer reading the element's size at every render until it settles, and at each change of
  // a busy session those forced layouts were the largest cost of the page's long tasks.
  const followFrame = useRef<number | null>(null)
  // Read by the frame callback: whether to follow when it runs (set from committed renders only).
  const following = useRef(false)
  const totalSize = virtualizer.getTotalSize()
  useLayoutEffect(() => {
    following.current = follow && atBottom
    if (!following.current || messages.length === 0 || followFrame.current !== null) return
    followFrame.current = requestAnimationFrame(() => {
      followFrame.current = null
      const el = scroller.current
      if (following.current && el !== null) el.scrollTop = el.scrollHeight
    })
  }, [messages.length, last?.content, totalSize, follow, atBottom])
  useEffect(
    () => () => {
      if (followFrame.current !== null) cancelAnimationFrame(followFrame.current)
    },
    []
  )

  useEffect(() => {
    const el = scroller.current
    if (el === null) return
    const onScroll = () => setAtBottom(el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX)
    el.addEventListener("scroll", onScroll, { passive: true })
    return () => el.removeEventListener("scroll", onScroll)
  }, [])

  return (
    <div className="conversation" ref={scroller} data-testid="conversation" data-count={messages.length}>
      {messages.length === 0 && <div className="empty muted">No messages yet.</div>}
      <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
        {virtualizer.getVirtualItems().map((item) => (
          <div
            key={item.key}
            data-index={item.index}
            ref={virtualizer.measureElement}
            style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${item.start}px)` }}
          >
            <MessageView message={messages[item.index]} />
          </div>
        ))}
      </div>
      {!atBottom && follow && (
        <button
          type="button"
          className="jump-bottom"
          onClick={() => {
            virtualizer.scrollToIndex(messages.length - 1, { align: "end" })
            setAtBottom(true)
          }}
        >
          ↓ latest
        </button>
      )}
    </div>
  )
}
