import { CHAT_MAX_LENGTH, chatLength, type ChatMessage } from "@peertobeer/client";
import { MessageSquare, SendHorizontal, X } from "lucide-react";
import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent, type Ref } from "react";
import type { ChatState } from "../hooks/useChat.js";
import { cn } from "../lib/cn.js";
import { Button } from "./Button.js";

export const CHAT_PANEL_ID = "chat-panel";

/** From here on the panel shows how many characters are left. */
const COUNTER_FROM = CHAT_MAX_LENGTH - 200;

const formatCount = (n: number) => n.toLocaleString("en-US");
const timeOf = (ms: number) => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

/** "Chat" in the call's controls; its name and badge carry the unread count. */
export function ChatButton({ chat, ref }: { chat: ChatState; ref?: Ref<HTMLButtonElement> }) {
  const label = chat.unread > 0 ? `Chat (${chat.unread} unread)` : "Chat";
  return (
    <Button
      ref={ref}
      size="icon"
      variant={chat.open ? "toggledOff" : "ghost"}
      className="relative"
      aria-label={label}
      title={`${label} (C)`}
      aria-expanded={chat.open}
      aria-controls={chat.open ? CHAT_PANEL_ID : undefined}
      aria-keyshortcuts="C"
      onClick={() => chat.setOpen(!chat.open)}
    >
      <MessageSquare aria-hidden />
      {chat.unread > 0 && (
        <span
          aria-hidden
          className="absolute -top-1 -right-1 flex h-6 min-w-6 items-center justify-center rounded-full bg-rose-600 px-1.5 text-xs font-semibold text-white ring-2 ring-slate-950"
        >
          {chat.unread > 99 ? "99+" : chat.unread}
        </span>
      )}
    </Button>
  );
}

interface ChatPanelProps {
  chat: ChatState;
  /** Everyone else in the call, for the placeholder. */
  others: readonly string[];
  /** Closing hands focus back (to the Chat button). */
  onClose: () => void;
}

/**
 * The call's messages and a box to write one: over the stage at phone width, beside the video
 * from `md` up. Enter sends, Shift+Enter starts a new line, Escape closes.
 */
export function ChatPanel({ chat, others, onClose }: ChatPanelProps) {
  const [draft, setDraft] = useState("");
  const length = chatLength(draft.trim());
  const tooLong = length > CHAT_MAX_LENGTH;
  const empty = length === 0;
  const log = useRef<HTMLDivElement>(null);
  const stickToBottom = useRef(true);

  // New messages scroll into view unless the person scrolled up to read older ones.
  useLayoutEffect(() => {
    const element = log.current;
    if (element && stickToBottom.current) element.scrollTop = element.scrollHeight;
  }, [chat.messages.length]);

  const send = (event?: FormEvent) => {
    event?.preventDefault();
    if (empty || tooLong) return;
    if (chat.send(draft).ok) {
      setDraft("");
      stickToBottom.current = true;
    }
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) send(event);
  };

  return (
    <section
      id={CHAT_PANEL_ID}
      aria-label="Chat"
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          onClose();
        }
      }}
      className="absolute inset-0 z-20 flex flex-col overflow-hidden rounded-2xl border border-slate-700 bg-slate-900/95 shadow-2xl backdrop-blur md:inset-y-2 md:right-2 md:left-auto md:w-80"
    >
      <header className="flex items-center justify-between gap-2 border-b border-slate-800 px-4 py-2">
        <h2 className="flex items-center gap-2 text-sm font-semibold">
          <MessageSquare className="h-4 w-4 text-brand-400" aria-hidden /> Chat
        </h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close"
          title="Close (Esc)"
          className="flex h-9 w-9 items-center justify-center rounded-full text-slate-400 hover:bg-slate-800 hover:text-slate-100 focus-visible:outline-2 focus-visible:outline-brand-400"
        >
          <X className="h-5 w-5" aria-hidden />
        </button>
      </header>
      <div
        ref={log}
        role="log"
        aria-label="Chat messages"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        className="min-h-0 flex-1 overflow-y-auto px-3 py-3 focus-visible:outline-2 focus-visible:-outline-offset-2 focus-visible:outline-brand-400"
      >
        {chat.messages.length === 0 ? (
          <p className="px-2 py-6 text-center text-sm text-slate-400">
            No messages yet. Messages go to everyone in the call and are kept until it ends.
          </p>
        ) : (
          <ol className="flex flex-col gap-2">
            {chat.messages.map((message, i) => (
              <MessageItem key={message.id} message={message} continued={chat.messages[i - 1]?.from === message.from} />
            ))}
          </ol>
        )}
      </div>
      <form onSubmit={send} className="border-t border-slate-800 p-3">
        <div className="flex items-end gap-2">
          <label className="min-w-0 flex-1">
            <span className="sr-only">Message</span>
            <textarea
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onKeyDown}
              autoFocus
              rows={2}
              placeholder={others.length === 1 ? `Message ${others[0]}` : "Message everyone"}
              aria-invalid={tooLong || undefined}
              aria-describedby={tooLong ? "chat-too-long" : length >= COUNTER_FROM ? "chat-counter" : undefined}
              className={cn(
                "block max-h-32 w-full resize-none rounded-xl border bg-slate-950 px-3 py-2 text-sm text-slate-100 outline-none placeholder:text-slate-500 focus:border-brand-500",
                tooLong ? "border-rose-500" : "border-slate-700",
              )}
            />
          </label>
          <Button type="submit" size="md" disabled={empty || tooLong} className="h-11 shrink-0 px-4">
            <SendHorizontal className="h-4 w-4" aria-hidden />
            Send
          </Button>
        </div>
        {tooLong ? (
          <p id="chat-too-long" role="alert" className="mt-2 text-xs text-rose-300">
            Too long to send: {formatCount(length)} of {formatCount(CHAT_MAX_LENGTH)} characters. Shorten it by{" "}
            {formatCount(length - CHAT_MAX_LENGTH)}.
          </p>
        ) : (
          length >= COUNTER_FROM && (
            <p id="chat-counter" className="mt-2 text-xs text-slate-400">
              {formatCount(CHAT_MAX_LENGTH - length)} characters left
            </p>
          )
        )}
      </form>
    </section>
  );
}

function MessageItem({ message, continued }: { message: ChatMessage; continued: boolean }) {
  return (
    <li className={cn("flex flex-col", message.mine ? "items-end" : "items-start", continued && "-mt-1")}>
      {/* A run of messages from one sender shows the name once; screen readers hear it on each. */}
      <p className={cn("mb-0.5 px-1 text-xs text-slate-400", continued && "sr-only")}>
        <span className="font-semibold text-slate-200">{message.mine ? "You" : message.from}</span>
        <span className="sr-only">:</span> <time dateTime={new Date(message.sentAt).toISOString()}>{timeOf(message.sentAt)}</time>
      </p>
      <p
        className={cn(
          "max-w-[85%] rounded-2xl px-3 py-1.5 text-sm break-words whitespace-pre-wrap",
          message.mine ? "bg-brand-500 text-slate-950" : "bg-slate-800 text-slate-100",
        )}
        data-from={message.from}
      >
        {message.text}
      </p>
      {message.status === "sending" && <p className="px-1 text-[11px] text-slate-500">Sending…</p>}
    </li>
  );
}

/** How long a new message's preview stays while the panel is closed. */
const PREVIEW_MS = 5_000;

/**
 * While the panel is closed, the newest message from someone else shows for a few seconds over
 * the video (and screen readers hear it): the badge alone is easy to miss mid-conversation.
 */
export function ChatPreview({ chat }: { chat: ChatState }) {
  const latest = chat.messages.at(-1);
  const [shown, setShown] = useState<ChatMessage | undefined>(undefined);
  // Each message is considered once: closing the panel does not bring back one already read.
  const handled = useRef(latest?.id);
  useEffect(() => {
    if (!latest || latest.id === handled.current) return;
    handled.current = latest.id;
    if (!chat.open && !latest.mine) setShown(latest);
  }, [latest, chat.open]);
  useEffect(() => {
    if (chat.open) setShown(undefined);
  }, [chat.open]);
  useEffect(() => {
    if (!shown) return;
    const timer = setTimeout(() => setShown(undefined), PREVIEW_MS);
    return () => clearTimeout(timer);
  }, [shown]);
  if (!shown) return null;
  return (
    <p
      role="status"
      className="absolute top-4 left-1/2 z-10 flex max-w-[calc(100%-2rem)] -translate-x-1/2 items-center gap-2 truncate rounded-full border border-slate-700 bg-slate-900/90 px-4 py-1.5 text-sm shadow-lg sm:max-w-md"
    >
      <MessageSquare className="h-4 w-4 shrink-0 text-brand-400" aria-hidden />
      <span className="sr-only">New message from </span>
      <span className="shrink-0 font-semibold">{shown.from}</span>
      <span className="sr-only">: </span>
      <span className="truncate text-slate-200">{shown.text}</span>
    </p>
  );
}

/** Focus the element behind `ref` once, after the current render (returning focus on close). */
export function useReturnFocus(open: boolean, target: { current: HTMLElement | null }): void {
  const wasOpen = useRef(open);
  useEffect(() => {
    if (wasOpen.current && !open) target.current?.focus();
    wasOpen.current = open;
  }, [open, target]);
}
