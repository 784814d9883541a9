/**
 * Simulated Peer-to-Beer clients: a JoinCall stream per user and unary RPCs with the session
 * token, over native gRPC (HTTP/2) or gRPC-Web (HTTP/1.1, as a browser does), through
 * connect-node. What they send is what the SDK sends for one call: an offer and an answer, each
 * carrying its side's candidate burst with end_of_candidates, and one EndCall.
 */
import * as http from "node:http";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  EndReason,
  SignalingService,
  type IceCandidate,
  type SignalingMessage,
} from "@peertobeer/protocol";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { IceCandidateSchema } from "@peertobeer/protocol";
import { callBursts, type Burst, type CallFixture, type FixtureCandidate } from "../lib/fixture.js";
import { Inbox } from "./inbox.js";
import { RawClient, type UnaryOptions } from "./raw.js";
import { joinAll } from "./join-all.js";
import type { CallPair, Driver, Integrity, LoadConfig, SideMeter } from "./types.js";
import { CountingAgent, WireCounter } from "./wire.js";

/**
 * The calls a simulated user makes: connect-node's client (what B1 and B5 measure, closest to
 * the browser's connect-web) or the lean raw-framing one (raw.ts: for throughput, where the
 * load generator must not be the bottleneck).
 */
type SignalingClient = Pick<RawClient, "joinCall" | "sendOffer" | "sendAnswer" | "sendIceCandidate" | "endCall">;
type EventCase = NonNullable<SignalingMessage["event"]["case"]>;

/**
 * Native gRPC clients (bots, or Envoy in front of browsers) multiplex streams on HTTP/2: the
 * idle sessions share one connection per this many streams.
 */
const NATIVE_STREAMS_PER_CONNECTION = 100;

/** Browsers cannot negotiate gRPC compression, so no simulated client does either. */
function uncompressed(): { acceptCompression: never[] } {
  // Sending is uncompressed by default; not accepting compression keeps responses plain too.
  return { acceptCompression: [] };
}

interface Connection {
  client: SignalingClient;
  /** Closes the connection(s) behind the client. */
  close(): void;
}

/**
 * Native gRPC: one HTTP/2 connection. gRPC-Web: an HTTP/1.1 keep-alive agent, which holds one
 * socket for the JoinCall stream and reuses another for unary calls, as a browser does.
 * With `wire`, every byte of those sockets is counted.
 */
function connect(config: LoadConfig, wire: WireCounter | undefined, port = config.port): Connection {
  if (config.client === "raw") {
    const client = new RawClient(config, port, wire);
    return { client, close: () => client.close() };
  }
  const baseUrl = `http://${config.host}:${port}`;
  if (config.system === "ours-grpc") {
    const sessionManager = new Http2SessionManager(
      baseUrl,
      {},
      wire ? { createConnection: () => wire.connect(port, config.host) } : {},
    );
    return {
      client: createClient(SignalingService, createGrpcTransport({ baseUrl, sessionManager, ...uncompressed() })),
      close: () => sessionManager.abort(),
    };
  }
  const agent = wire ? new CountingAgent(wire, { keepAlive: true }) : new http.Agent({ keepAlive: true });
  return {
    client: createClient(SignalingService, createGrpcWebTransport({ baseUrl, httpVersion: "1.1", nodeOptions: { agent }, ...uncompressed() })),
    close: () => agent.destroy(),
  };
}

function toCandidates(list: FixtureCandidate[]): MessageInitShape<typeof IceCandidateSchema>[] {
  return list.map((c) => ({
    candidate: c.candidate,
    sdpMid: c.sdpMid ?? undefined,
    sdpMlineIndex: c.sdpMLineIndex ?? undefined,
    usernameFragment: c.usernameFragment ?? undefined,
  }));
}

class OursUser implements SideMeter {
  readonly inbox = new Inbox<SignalingMessage>();
  sent = 0;
  received = 0;
  heartbeats = 0;
  /** When each event arrived (performance.now()), for the relay latency. */
  readonly arrivals = new WeakMap<SignalingMessage, number>();
  readonly integrity: Integrity = { events: 0, lost: 0, duplicated: 0, unexpected: 0 };
  private lastSeq = 0n;
  private token = "";
  private readonly abort = new AbortController();
  private closing = false;
  private leanOptions: UnaryOptions | undefined;

  constructor(
    readonly id: string,
    readonly client: SignalingClient,
    readonly wire: WireCounter,
    private readonly timeoutMs: number,
  ) {}

  /** Opens the JoinCall stream and resolves once `joined` (with the session token) arrived. */
  async join(): Promise<void> {
    const stream = this.client.joinCall({ userId: this.id, watchPresence: false }, { signal: this.abort.signal });
    const messages = stream[Symbol.asyncIterator]();
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const first = await Promise.race([
      messages.next(),
      new Promise<never>((_, reject) =>
        timeout.addEventListener("abort", () => reject(new Error(`${this.id}: no joined within ${this.timeoutMs} ms`)), {
          once: true,
        }),
      ),
    ]);
    if (first.done || first.value.event.case !== "joined") {
      throw new Error(`${this.id}: the stream did not start with joined`);
    }
    this.token = first.value.event.value.sessionToken;
    this.lastSeq = first.value.seq;
    void this.pump(messages);
  }

  private async pump(messages: AsyncIterator<SignalingMessage>): Promise<void> {
    try {
      for (;;) {
        const result = await messages.next();
        if (result.done) break;
        if (result.value.event.case === "heartbeat") {
          this.heartbeats += 1;
          continue;
        }
        this.arrivals.set(result.value, performance.now());
        this.checkSeq(result.value.seq);
        this.received += 1;
        this.inbox.push(result.value);
      }
      this.inbox.fail(new Error(`${this.id}: the server ended the stream`));
    } catch (error) {
      if (!this.closing) this.inbox.fail(new Error(`${this.id}: stream failed: ${String(error)}`));
    }
  }

  /** Every event must be the one after the last: a gap is lost events, a repeat a duplicate. */
  private checkSeq(seq: bigint): void {
    this.integrity.events += 1;
    if (seq <= this.lastSeq) {
      this.integrity.duplicated += 1;
      return;
    }
    this.integrity.lost += Number(seq - this.lastSeq - 1n);
    this.lastSeq = seq;
  }

  /** Ms from `sentAt` to the arrival of `message` on this user's stream. */
  relayMs(sentAt: number, message: SignalingMessage): number {
    const arrived = this.arrivals.get(message);
    if (arrived === undefined) throw new Error(`${this.id}: no arrival time for ${message.event.case ?? "?"}`);
    return arrived - sentAt;
  }

  options(): UnaryOptions {
    this.sent += 1;
    // The lean client times its calls out itself: no AbortSignal (and its timer) per call.
    if (this.client instanceof RawClient) return (this.leanOptions ??= { headers: { authorization: `Bearer ${this.token}` } });
    return { headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(this.timeoutMs) };
  }

  async expect(kind: EventCase, callId: string | undefined): Promise<SignalingMessage> {
    const message = await this.inbox.next(this.timeoutMs, `${kind} for ${this.id}`);
    if (message.event.case !== kind) {
      throw new Error(`${this.id} expected ${kind}, got ${message.event.case ?? "nothing"}`);
    }
    if (callId !== undefined && message.callId !== callId) {
      throw new Error(`${this.id} got ${kind} for call ${message.callId}, expected ${callId}`);
    }
    return message;
  }

  close(): void {
    // Whatever no setup took from the inbox was not expected by any.
    this.integrity.unexpected += this.inbox.pending;
    this.closing = true;
    this.abort.abort();
  }
}

class OursPair implements CallPair {
  private readonly callerBursts: WireBurst[];
  private readonly calleeBursts: WireBurst[];
  private relays: number[] = [];

  constructor(
    readonly caller: OursUser,
    readonly callee: OursUser,
    private readonly fixture: CallFixture,
  ) {
    const bursts = callBursts(fixture);
    this.callerBursts = bursts.caller.map(toWire);
    this.calleeBursts = bursts.callee.map(toWire);
  }

  /**
   * What the SDK sends for one call, burst by burst as the fixture's real Chromium gathered
   * them: each description carries its first burst, later bursts go in SendIceCandidate.
   */
  async setup(): Promise<number> {
    const { caller, callee, fixture } = this;
    const [callerFirst, ...callerLater] = this.callerBursts;
    const [calleeFirst, ...calleeLater] = this.calleeBursts;
    const started = performance.now();
    const { callId } = await caller.client.sendOffer(
      { toUserId: callee.id, sdp: fixture.offer.sdp, ...callerFirst },
      caller.options(),
    );
    const offer = await callee.expect("offer", callId);
    this.relays.push(callee.relayMs(started, offer));
    checkBurst(offer, callerFirst);
    const answerSent = performance.now();
    await callee.client.sendAnswer({ callId, sdp: fixture.answer.sdp, ...calleeFirst }, callee.options());
    for (const burst of calleeLater) await callee.client.sendIceCandidate({ callId, ...burst }, callee.options());
    const answer = await caller.expect("answer", callId);
    this.relays.push(caller.relayMs(answerSent, answer));
    checkBurst(answer, calleeFirst);
    for (const burst of callerLater) await caller.client.sendIceCandidate({ callId, ...burst }, caller.options());
    await Promise.all([
      (async () => {
        for (const burst of calleeLater) checkBurst(await caller.expect("iceCandidates", callId), burst);
      })(),
      (async () => {
        for (const burst of callerLater) checkBurst(await callee.expect("iceCandidates", callId), burst);
      })(),
    ]);
    const latency = performance.now() - started;
    // Not part of the setup latency, but every call ends, and the pair is ready for the next.
    const endSent = performance.now();
    await caller.client.endCall({ callId, reason: EndReason.HANGUP }, caller.options());
    this.relays.push(callee.relayMs(endSent, await callee.expect("callEnded", callId)));
    return latency;
  }

  takeRelays(): number[] {
    const taken = this.relays;
    this.relays = [];
    return taken;
  }
}

interface WireBurst {
  candidates: MessageInitShape<typeof IceCandidateSchema>[];
  endOfCandidates: boolean;
}

function toWire(burst: Burst): WireBurst {
  return { candidates: toCandidates(burst.candidates), endOfCandidates: burst.endOfCandidates };
}

/** The received offer, answer or candidates carry exactly `burst`. */
function checkBurst(message: SignalingMessage, burst: WireBurst | undefined): void {
  const { event } = message;
  if (event.case !== "offer" && event.case !== "answer" && event.case !== "iceCandidates") return;
  const candidates: IceCandidate[] = event.value.candidates;
  const expected = burst ?? { candidates: [], endOfCandidates: false };
  if (candidates.length !== expected.candidates.length || event.value.endOfCandidates !== expected.endOfCandidates) {
    throw new Error(
      `expected ${expected.candidates.length} candidates (end ${expected.endOfCandidates}), ` +
        `got ${candidates.length} (end ${event.value.endOfCandidates})`,
    );
  }
}

export class OursDriver implements Driver {
  private idle: OursUser[] = [];
  private pairs: OursPair[] = [];
  private idleConnections: Connection[] = [];
  private pairConnections: Connection[] = [];
  private idleClient: SignalingClient | undefined;
  private idleOnClient = 0;
  private readonly idleWire = new WireCounter();
  /** Integrity of the pairs' users already closed. */
  private readonly closed: Integrity = { events: 0, lost: 0, duplicated: 0, unexpected: 0 };

  constructor(
    private readonly config: LoadConfig,
    private readonly fixture: CallFixture,
  ) {}

  /**
   * gRPC-Web: all idle sessions share one agent (a socket per stream, as browser tabs have).
   * Native: NATIVE_STREAMS_PER_CONNECTION streams per HTTP/2 connection.
   */
  private clientForIdle(): SignalingClient {
    const limit = this.config.system === "ours-web" ? Number.POSITIVE_INFINITY : NATIVE_STREAMS_PER_CONNECTION;
    if (!this.idleClient || this.idleOnClient >= limit) {
      const connection = connect(this.config, undefined);
      this.idleConnections.push(connection);
      this.idleClient = connection.client;
      this.idleOnClient = 0;
    }
    this.idleOnClient += 1;
    return this.idleClient;
  }

  openIdle(count: number, prefix: string, concurrency: number): Promise<string[]> {
    return joinAll(count, concurrency, (i) => new OursUser(`${prefix}${i}`, this.clientForIdle(), this.idleWire, this.config.stepTimeoutMs), (user) => this.idle.push(user));
  }

  async openPairs(count: number, prefix: string): Promise<CallPair[]> {
    const user = (id: string, port: number) => {
      // Each simulated user has its own connection(s), as each browser does.
      const wire = new WireCounter();
      const connection = connect(this.config, wire, port);
      this.pairConnections.push(connection);
      return new OursUser(id, connection.client, wire, this.config.stepTimeoutMs);
    };
    const pairs = Array.from(
      { length: count },
      (_, i) =>
        new OursPair(
          user(`${prefix}caller-${i}`, this.config.port),
          user(`${prefix}callee-${i}`, this.config.calleePort ?? this.config.port),
          this.fixture,
        ),
    );
    await Promise.all(pairs.flatMap((pair) => [pair.caller.join(), pair.callee.join()]));
    this.pairs.push(...pairs);
    return pairs;
  }

  async closePairs(): Promise<void> {
    for (const pair of this.pairs) {
      pair.caller.close();
      pair.callee.close();
      for (const user of [pair.caller, pair.callee]) add(this.closed, user.integrity);
    }
    for (const connection of this.pairConnections) connection.close();
    this.pairs = [];
    this.pairConnections = [];
  }

  integrity(): Integrity {
    const total = { ...this.closed };
    for (const pair of this.pairs) for (const user of [pair.caller, pair.callee]) add(total, user.integrity);
    return total;
  }

  async closeAll(): Promise<void> {
    await this.closePairs();
    for (const user of this.idle) user.close();
    for (const connection of this.idleConnections) connection.close();
    this.idle = [];
    this.idleConnections = [];
    this.idleClient = undefined;
  }
}

function add(total: Integrity, more: Integrity): void {
  total.events += more.events;
  total.lost += more.lost;
  total.duplicated += more.duplicated;
  total.unexpected += more.unexpected;
}
