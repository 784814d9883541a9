import type { ChatMessage, ChatRoom, ChatSendResult } from "@peertobeer/client";
import { useCallback, useEffect, useState, useSyncExternalStore } from "react";

export interface ChatState {
  messages: readonly ChatMessage[];
  open: boolean;
  setOpen: (open: boolean) => void;
  /** Messages from others that came while the panel was closed. */
  unread: number;
  send: (text: string) => ChatSendResult;
}

/** The call's chat (from the SDK) and whether its panel is open; unread counts while it is not. */
export function useChat(room: ChatRoom): ChatState {
  const messages = useSyncExternalStore(room.subscribe, room.getMessages);
  const [open, setOpen] = useState(false);
  // How many of the call's messages the person has had in front of them.
  const [seen, setSeen] = useState(0);
  useEffect(() => {
    if (open) setSeen(messages.length);
  }, [open, messages.length]);
  const unread = open ? 0 : messages.slice(Math.min(seen, messages.length)).filter((m) => !m.mine).length;
  const send = useCallback((text: string) => room.send(text), [room]);
  return { messages, open, setOpen, unread, send };
}
