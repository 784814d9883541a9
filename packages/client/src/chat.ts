/**
 * Chat in a call: one log per call, messages sent to everyone in it over each connection's
 * data channel (a full mesh: a message goes straight from its sender to each other person).
 *
 * Delivery is once and in order per sender, also when a channel opens again (DESIGN §4: in-call
 * state is re-sent in full whenever the channel (re)opens):
 * - each connection numbers the messages sent on it (1, 2, 3…), so every receiver sees one
 *   unbroken sequence from each sender, whenever it joined;
 * - a sender keeps each message until that receiver acknowledges it (a cumulative ack: "all of
 *   yours up to n"), and sends everything unacknowledged again whenever the channel opens;
 * - a receiver delivers only the next number it expects, drops what it already delivered (a
 *   resend whose ack was lost) and holds one that comes early until the gap fills.
 * No React, no WebRTC here: a `ChatTransport` per person carries the wire messages.
 */

/** The longest message, in characters (Unicode code points). */
export const CHAT_MAX_LENGTH = 2_000;

/** Early messages a receiver holds per sender while waiting for a gap to fill; past it they wait for the resend. */
const HOLD_LIMIT = 256;

/** What goes over the chat channel. */
export type ChatWire =
  | { type: "chat"; seq: number; text: string; sentAt: number }
  | { type: "chat-ack"; seq: number };

/** One person's end of the channel: false when the channel is not open (the message waits). */
export interface ChatTransport {
  send(wire: ChatWire): boolean;
}

export interface ChatMessage {
  /** Unique within the call, stable: a list key. */
  id: string;
  /** Who wrote it (our own ID for ours). */
  from: string;
  text: string;
  /** The sender's clock, ms since the epoch. */
  sentAt: number;
  mine: boolean;
  /** Ours only: `sending` until everyone it went to has it. */
  status?: "sending" | "sent";
}

export type ChatSendResult =
  | { ok: true; message: ChatMessage }
  | { ok: false; reason: "empty" | "too-long" | "no-call" };

/** A message's length as a person counts it: emoji and other astral characters count once. */
export function chatLength(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

interface Outgoing {
  seq: number;
  messageId: string;
  text: string;
  sentAt: number;
}

interface Peer {
  userId: string;
  transport: ChatTransport;
  /** Per connection, so that two connections with the same person never mix their numbers. */
  epoch: number;
  /** The channel has been open at least once: the peer may have received something. */
  everOpened: boolean;
  lastSentSeq: number;
  /** Sent to this person and not yet acknowledged, in order. */
  outbox: Outgoing[];
  /** The last of their messages delivered to our log. */
  delivered: number;
  /** Theirs that came before the one we expect. */
  held: Map<number, { text: string; sentAt: number }>;
}

/**
 * The chat of the call in progress: `Phone` adds and removes people as connections come and go,
 * feeds it what arrives, and tells it when a channel opens; a UI reads `getMessages()` and
 * subscribes (React: useSyncExternalStore).
 */
export class ChatRoom {
  private readonly listeners = new Set<() => void>();
  private readonly peers = new Map<string, Peer>();
  private messages: readonly ChatMessage[] = [];
  private ownCount = 0;
  private epochs = 0;

  /** `self`: our own ID, asked for when a message is sent. */
  constructor(private readonly self: () => string) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The call's messages, oldest first; a new array whenever anything changed. */
  getMessages = (): readonly ChatMessage[] => this.messages;

  /**
   * Sends `text` (trimmed) to everyone in the call. An empty message is ignored, one longer than
   * CHAT_MAX_LENGTH refused; neither changes anything.
   */
  send(text: string): ChatSendResult {
    const trimmed = text.trim();
    if (trimmed === "") return { ok: false, reason: "empty" };
    if (chatLength(trimmed) > CHAT_MAX_LENGTH) return { ok: false, reason: "too-long" };
    if (this.peers.size === 0) return { ok: false, reason: "no-call" };
    this.ownCount += 1;
    const message: ChatMessage = {
      id: `me:${this.ownCount}`,
      from: this.self(),
      text: trimmed,
      sentAt: Date.now(),
      mine: true,
      status: "sending",
    };
    this.messages = [...this.messages, message];
    // Queued for everyone before any goes: an ack may come back within send() itself.
    const queued = [...this.peers.values()].map((peer) => {
      peer.lastSentSeq += 1;
      const outgoing = { seq: peer.lastSentSeq, messageId: message.id, text: message.text, sentAt: message.sentAt };
      peer.outbox.push(outgoing);
      return { peer, outgoing };
    });
    this.changed();
    for (const { peer, outgoing } of queued) this.transmit(peer, outgoing);
    return { ok: true, message };
  }

  /**
   * A connection with `userId` (a new person, or a new connection with them). A connection that
   * replaces one whose channel never opened (glare) takes over what still waited on it.
   */
  addPeer(userId: string, transport: ChatTransport): void {
    const previous = this.peers.get(userId);
    this.epochs += 1;
    const peer: Peer = {
      userId,
      transport,
      epoch: this.epochs,
      everOpened: false,
      lastSentSeq: 0,
      outbox: [],
      delivered: 0,
      held: new Map(),
    };
    if (previous && !previous.everOpened) {
      // Nothing can have reached them: the same messages go again, numbered anew.
      for (const outgoing of previous.outbox) {
        peer.lastSentSeq += 1;
        peer.outbox.push({ ...outgoing, seq: peer.lastSentSeq });
      }
    }
    this.peers.set(userId, peer);
    if (previous) this.refreshStatus();
  }

  /** The connection with `userId` is gone: what waited for them is dropped. */
  removePeer(userId: string): void {
    if (!this.peers.delete(userId)) return;
    this.refreshStatus();
  }

  /** The channel with `userId` opened (again): everything unacknowledged goes, with our ack. */
  opened(userId: string): void {
    const peer = this.peers.get(userId);
    if (!peer) return;
    peer.everOpened = true;
    // Our ack first: they can drop what we already have before it is counted twice.
    post(peer, { type: "chat-ack", seq: peer.delivered });
    for (const outgoing of peer.outbox) if (!this.transmit(peer, outgoing)) break;
  }

  /** Something arrived from `userId` on the chat channel. */
  receive(userId: string, wire: unknown): void {
    const peer = this.peers.get(userId);
    if (!peer || !isWire(wire)) return;
    if (wire.type === "chat-ack") {
      this.acked(peer, wire.seq);
      return;
    }
    peer.everOpened = true;
    if (wire.seq <= peer.delivered) {
      // A resend of what we have: say so again, the ack may have been lost.
      post(peer, { type: "chat-ack", seq: peer.delivered });
      return;
    }
    if (wire.seq > peer.delivered + 1) {
      if (peer.held.size < HOLD_LIMIT) peer.held.set(wire.seq, { text: wire.text, sentAt: wire.sentAt });
      return;
    }
    const fresh: ChatMessage[] = [];
    let next: { text: string; sentAt: number } | undefined = wire;
    while (next) {
      peer.delivered += 1;
      peer.held.delete(peer.delivered);
      fresh.push({
        id: `${peer.userId}#${peer.epoch}:${peer.delivered}`,
        from: peer.userId,
        // A peer that ignores the limit is cut to it rather than stalling its later messages.
        text: clip(next.text),
        sentAt: next.sentAt,
        mine: false,
      });
      next = peer.held.get(peer.delivered + 1);
    }
    post(peer, { type: "chat-ack", seq: peer.delivered });
    this.messages = [...this.messages, ...fresh];
    this.changed();
  }

  /** The call ended (or a new one starts): the log and every connection's state go. */
  reset(): void {
    this.peers.clear();
    if (this.messages.length === 0) return;
    this.messages = [];
    this.changed();
  }

  private transmit(peer: Peer, outgoing: Outgoing): boolean {
    return post(peer, { type: "chat", seq: outgoing.seq, text: outgoing.text, sentAt: outgoing.sentAt });
  }

  private acked(peer: Peer, seq: number): void {
    const before = peer.outbox.length;
    peer.outbox = peer.outbox.filter((outgoing) => outgoing.seq > seq);
    if (peer.outbox.length !== before) this.refreshStatus();
  }

  /**
   * Our messages nobody still waits for are `sent`. Someone whose channel never opened yet (an
   * invitee still ringing) does not hold that up once anyone else's has: they get the messages
   * when they join.
   */
  private refreshStatus(): void {
    const peers = [...this.peers.values()];
    const joined = peers.filter((peer) => peer.everOpened);
    const waiting = new Set<string>();
    for (const peer of joined.length > 0 ? joined : peers) for (const outgoing of peer.outbox) waiting.add(outgoing.messageId);
    let changed = false;
    const messages = this.messages.map((message) => {
      if (message.status !== "sending" || waiting.has(message.id)) return message;
      changed = true;
      return { ...message, status: "sent" as const };
    });
    if (!changed) return;
    this.messages = messages;
    this.changed();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Sends if the channel takes it; a channel closing under us throws, and what failed waits for it to open again. */
function post(peer: Peer, wire: ChatWire): boolean {
  try {
    return peer.transport.send(wire);
  } catch {
    return false;
  }
}

function isWire(value: unknown): value is ChatWire {
  if (typeof value !== "object" || value === null) return false;
  const wire = value as Record<string, unknown>;
  if (typeof wire.seq !== "number" || !Number.isSafeInteger(wire.seq) || wire.seq < 0) return false;
  if (wire.type === "chat-ack") return true;
  return wire.type === "chat" && wire.seq > 0 && typeof wire.text === "string" && typeof wire.sentAt === "number";
}

function clip(text: string): string {
  if (text.length <= CHAT_MAX_LENGTH) return text;
  return [...text].slice(0, CHAT_MAX_LENGTH).join("");
}
