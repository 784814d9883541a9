/**
 * Simulated PeerJS clients speaking the peerjs browser client's WebSocket protocol to the `peer`
 * server: the URL it opens, OPEN on connect, a HEARTBEAT every 5 s, and a media call as
 * the client's Negotiator sends it — OFFER and ANSWER with the session description in the
 * payload, then one CANDIDATE message per ICE candidate (RTCIceCandidate.toJSON()).
 */
import * as http from "node:http";
import WebSocket from "ws";
import type { CallFixture, FixtureCandidate } from "../lib/fixture.js";
import { Inbox } from "./inbox.js";
import { joinAll } from "./join-all.js";
import type { CallPair, Driver, LoadConfig, SideMeter } from "./types.js";
import { CountingAgent, WireCounter } from "./wire.js";

/** peerjs Socket defaults: key "peerjs", path "/", pingInterval 5000 ms; the version the client reports. */
const KEY = "peerjs";
const HEARTBEAT_MS = 5_000;
const CLIENT_VERSION = "1.5.4";

type ServerMessageType = "OPEN" | "OFFER" | "ANSWER" | "CANDIDATE" | "LEAVE" | "EXPIRE" | "HEARTBEAT" | "ID-TAKEN" | "ERROR";

interface ServerMessage {
  type: ServerMessageType;
  src?: string;
  dst?: string;
  payload?: unknown;
}

interface MediaPayload {
  type: "media";
  connectionId: string;
}

function isServerMessage(value: unknown): value is ServerMessage {
  return typeof value === "object" && value !== null && typeof (value as { type?: unknown }).type === "string";
}

/** peerjs's own util.randomToken (crypto's random bytes per call cost the load measurably). */
function randomToken(): string {
  return Math.random().toString(36).slice(2);
}

class PeerJsUser implements SideMeter {
  readonly inbox = new Inbox<string>();
  sent = 0;
  received = 0;
  heartbeats = 0;
  private socket: WebSocket | undefined;
  private heartbeat: ReturnType<typeof setTimeout> | undefined;
  private closing = false;

  constructor(
    readonly id: string,
    readonly wire: WireCounter,
    private readonly agent: http.Agent,
    private readonly config: LoadConfig,
  ) {}

  /** Connects and resolves on the server's OPEN. */
  join(): Promise<void> {
    const url =
      `ws://${this.config.host}:${this.config.port}/peerjs?key=${KEY}` +
      `&id=${this.id}&token=${randomToken()}&version=${CLIENT_VERSION}`;
    // A fixed mask instead of fresh random bytes per frame: the load skips the random pool, the
    // server still unmasks every frame as it does a browser's (a zero mask would let it skip that).
    const socket = new WebSocket(url, { agent: this.agent, perMessageDeflate: false, generateMask: fixedMask, skipUTF8Validation: true });
    this.socket = socket;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${this.id}: no OPEN within ${this.config.stepTimeoutMs} ms`)), this.config.stepTimeoutMs);
      let opened = false;
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (!opened) reject(error);
        else if (!this.closing) this.inbox.fail(error);
      };
      socket.on("message", (data: WebSocket.RawData) => {
        if (opened) {
          // Kept as text: expect() compares it with what the server relays for what was sent.
          this.received += 1;
          this.inbox.push(data.toString());
          return;
        }
        let message: unknown;
        try {
          message = JSON.parse(data.toString());
        } catch {
          fail(new Error(`${this.id}: invalid server message`));
          return;
        }
        if (!isServerMessage(message)) return;
        if (message.type !== "OPEN") {
          fail(new Error(`${this.id}: expected OPEN, got ${message.type}`));
          return;
        }
        opened = true;
        clearTimeout(timer);
        this.scheduleHeartbeat();
        resolve();
      });
      socket.on("error", (error) => fail(error));
      socket.on("close", () => fail(new Error(`${this.id}: socket closed`)));
    });
  }

  private scheduleHeartbeat(): void {
    this.heartbeat = setTimeout(() => {
      if (this.socket?.readyState !== WebSocket.OPEN) return;
      this.socket.send(JSON.stringify({ type: "HEARTBEAT" }));
      this.heartbeats += 1;
      this.scheduleHeartbeat();
    }, HEARTBEAT_MS);
  }

  /** Sends a message serialised already (see Template). */
  send(text: string): void {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN) throw new Error(`${this.id}: socket is not open`);
    socket.send(text);
    this.sent += 1;
  }

  /**
   * The next message must be `type` from `from` for `connectionId`. With `relayed` (the text the
   * server makes of what was sent: {type, src, dst, payload} serialised), a text identical to it
   * passes without parsing; anything else is parsed, so an error says what came instead.
   */
  async expect(type: ServerMessageType, from: string, connectionId: string, relayed?: Template): Promise<void> {
    const text = await this.inbox.next(this.config.stepTimeoutMs, `${type} for ${this.id}`);
    if (relayed?.matches(text, connectionId)) return;
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      throw new Error(`${this.id}: invalid server message ${JSON.stringify(text.slice(0, 80))}`);
    }
    if (!isServerMessage(message) || message.type !== type || message.src !== from) {
      const got = isServerMessage(message) ? `${message.type} from ${message.src ?? "nobody"}` : JSON.stringify(text.slice(0, 80));
      throw new Error(`${this.id} expected ${type} from ${from}, got ${got}`);
    }
    const payload = message.payload as Partial<MediaPayload> | undefined;
    if (payload?.connectionId !== connectionId) {
      throw new Error(`${this.id} got ${type} for connection ${String(payload?.connectionId)}, expected ${connectionId}`);
    }
    if (relayed !== undefined) throw new Error(`${this.id} got ${type} from ${from} whose payload differs from the one sent: ${JSON.stringify(text.slice(0, 80))}…`);
  }

  close(): void {
    this.closing = true;
    clearTimeout(this.heartbeat);
    this.socket?.terminate();
  }
}

const MASK = [0x5a, 0xc3, 0x96, 0x3c];

function fixedMask(mask: Buffer): void {
  mask[0] = MASK[0] ?? 1;
  mask[1] = MASK[1] ?? 1;
  mask[2] = MASK[2] ?? 1;
  mask[3] = MASK[3] ?? 1;
}

/** Stands for the connection id in a message serialised ahead of the calls. */
const CONNECTION_ID = "@@connection-id@@";

/**
 * A message serialised once, as the peerjs client would serialise it, but for its connection id
 * (new on every call), which is filled in per call: the load does no JSON.stringify per message.
 */
class Template {
  private readonly parts: string[];

  constructor(message: object) {
    this.parts = JSON.stringify(message).split(CONNECTION_ID);
    if (this.parts.length < 2) throw new Error("a message template without its connection id");
  }

  fill(connectionId: string): string {
    return this.parts.join(connectionId);
  }

  /** Whether `text` is this message filled with `connectionId`, compared in place (no copy). */
  matches(text: string, connectionId: string): boolean {
    const { parts } = this;
    let length = connectionId.length * (parts.length - 1);
    for (const part of parts) length += part.length;
    if (text.length !== length) return false;
    let at = 0;
    for (const [i, part] of parts.entries()) {
      if (i > 0) {
        if (!text.startsWith(connectionId, at)) return false;
        at += connectionId.length;
      }
      if (!text.startsWith(part, at)) return false;
      at += part.length;
    }
    return true;
  }
}

/** A message as the client sends it and as the server relays it to `dst`, both serialised once. */
class Relayed {
  readonly sent: Template;
  readonly relayed: Template;

  constructor(type: "OFFER" | "ANSWER" | "CANDIDATE", src: string, dst: string, payload: object) {
    this.sent = new Template({ type, payload, dst });
    // What the peer server's transmission handler sends on: JSON.stringify({ type, src, dst, payload }).
    this.relayed = new Template({ type, src, dst, payload });
  }
}

class PeerJsPair implements CallPair {
  private readonly offer: Relayed;
  private readonly answer: Relayed;
  private readonly calleeCandidates: Relayed[];
  private readonly callerCandidates: Relayed[];

  constructor(
    readonly caller: PeerJsUser,
    readonly callee: PeerJsUser,
    fixture: CallFixture,
  ) {
    const connectionId = CONNECTION_ID;
    // RTCIceCandidate.toJSON(), as peerjs sends it: the fixture's gathering time stays out.
    const candidate = (src: string, dst: string, { atMs: _, ...c }: FixtureCandidate) =>
      new Relayed("CANDIDATE", src, dst, { candidate: c, type: "media", connectionId });
    this.offer = new Relayed("OFFER", caller.id, callee.id, { sdp: fixture.offer, type: "media", connectionId, browser: "chrome" });
    this.answer = new Relayed("ANSWER", callee.id, caller.id, { sdp: fixture.answer, type: "media", connectionId, browser: "chrome" });
    this.calleeCandidates = fixture.calleeCandidates.map((c) => candidate(callee.id, caller.id, c));
    this.callerCandidates = fixture.callerCandidates.map((c) => candidate(caller.id, callee.id, c));
  }

  async setup(): Promise<number> {
    const { caller, callee } = this;
    const connectionId = `mc_${randomToken()}`;
    const started = performance.now();
    caller.send(this.offer.sent.fill(connectionId));
    await callee.expect("OFFER", caller.id, connectionId, this.offer.relayed);
    callee.send(this.answer.sent.fill(connectionId));
    for (const c of this.calleeCandidates) callee.send(c.sent.fill(connectionId));
    await caller.expect("ANSWER", callee.id, connectionId, this.answer.relayed);
    for (const c of this.callerCandidates) caller.send(c.sent.fill(connectionId));
    await Promise.all([
      (async () => {
        for (const c of this.calleeCandidates) await caller.expect("CANDIDATE", callee.id, connectionId, c.relayed);
      })(),
      (async () => {
        for (const c of this.callerCandidates) await callee.expect("CANDIDATE", caller.id, connectionId, c.relayed);
      })(),
    ]);
    // PeerJS needs nothing more: closing a MediaConnection sends nothing to the server.
    return performance.now() - started;
  }
}

export class PeerJsDriver implements Driver {
  private idle: PeerJsUser[] = [];
  private pairs: PeerJsPair[] = [];
  private readonly idleAgent = new http.Agent();
  private readonly idleWire = new WireCounter();

  constructor(
    private readonly config: LoadConfig,
    private readonly fixture: CallFixture,
  ) {}

  openIdle(count: number, prefix: string, concurrency: number): Promise<string[]> {
    return joinAll(count, concurrency, (i) => new PeerJsUser(`${prefix}${i}`, this.idleWire, this.idleAgent, this.config), (user) => this.idle.push(user));
  }

  async openPairs(count: number, prefix: string): Promise<CallPair[]> {
    const user = (id: string) => {
      const wire = new WireCounter();
      return new PeerJsUser(id, wire, new CountingAgent(wire, {}), this.config);
    };
    const pairs = Array.from(
      { length: count },
      (_, i) => new PeerJsPair(user(`${prefix}caller-${i}`), user(`${prefix}callee-${i}`), this.fixture),
    );
    await Promise.all(pairs.flatMap((pair) => [pair.caller.join(), pair.callee.join()]));
    this.pairs.push(...pairs);
    return pairs;
  }

  async closePairs(): Promise<void> {
    for (const pair of this.pairs) {
      pair.caller.close();
      pair.callee.close();
    }
    this.pairs = [];
  }

  async closeAll(): Promise<void> {
    await this.closePairs();
    for (const user of this.idle) user.close();
    this.idle = [];
  }
}
