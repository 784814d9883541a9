import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EndReason, ErrorReason, SignalingMessageSchema, type IceCandidate, type SignalingMessage } from "@peertobeer/protocol";
import { Redis } from "ioredis";
import { HubError, type AnswerInput, type EventInit, type HistoryLimit, type OfferInput, type Sink } from "../hub/index.js";
import type { ClusterObserver, JoinedFactory, JoinRequest, SessionHandle, SignalingBackend } from "./backend.js";
import { CLUSTER_SCRIPT } from "./redis-script.js";

export interface RedisBackendOptions {
  url: string;
  /** Key prefix: the hash tag of every key, so one deployment's keys share a Redis Cluster slot. */
  prefix: string;
  ringTimeoutMs: number;
  /** How many people a call may hold, invitees included (MAX_CALL_PARTICIPANTS). */
  maxCallParticipants: number;
  sessionGraceMs: number;
  heartbeatMs: number;
  historyLimit: HistoryLimit;
  /** How often this node ticks: its liveness and the cluster's timers (ring, grace). */
  tickMs?: number;
  /** A node that has not ticked for this long is dead: its sessions lose their streams. */
  nodeTtlMs?: number;
  onError?: (error: unknown, what: string) => void;
  observer?: ClusterObserver;
}

type Reply = Buffer | number | Reply[];
type ScriptArg = string | number | Buffer;

/** A stream this node holds for a session. */
interface LocalStream {
  handle: SessionHandle;
  sink: Sink;
  /** The attach generation in Redis; a takeover names the generation that replaced it. */
  gen: number;
  /** The last event pushed to the sink. */
  delivered: bigint;
  /** Events that arrived while the join was under way, pushed once it has replayed. */
  pending: Buffer[] | undefined;
}

const SEPARATOR = 0x7c; // "|"
const EMPTY = Buffer.alloc(0);

/**
 * Cluster mode: sessions, calls, presence, histories and timers in Redis, so any node takes any
 * request and a node's death loses nothing. Each change is one atomic script run (redis-script.ts);
 * events reach the node holding the recipient's stream over sharded pub/sub, and a resumed
 * stream replays from the history in Redis.
 */
export class RedisBackend implements SignalingBackend {
  readonly nodeId = randomUUID();
  private readonly cmd: Redis;
  private readonly sub: Redis;
  private readonly key: string;
  private readonly streams = new Map<string, LocalStream>();
  /** Handles of sessions this node has seen recently, so rate limits follow them. */
  private readonly handles = new Map<string, SessionHandle>();
  private readonly closeListeners: ((sessionId: string) => void)[] = [];
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly config: [number, number, number, number];
  private ticking = false;
  private connectedBefore = false;
  /** The deployment's users online and calls by state, as of the latest tick. */
  private cluster = { users: 0, ringing: 0, active: 0 };

  private constructor(private readonly options: RedisBackendOptions) {
    this.key = `{${options.prefix}}:`;
    const common = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true };
    this.cmd = new Redis(options.url, common);
    this.sub = new Redis(options.url, { ...common, enableOfflineQueue: true });
    this.cmd.defineCommand("p2b", { numberOfKeys: 1, lua: CLUSTER_SCRIPT });
    const historyMs = options.sessionGraceMs + 2 * options.heartbeatMs + 1_000;
    this.config = [options.historyLimit.events, historyMs, options.sessionGraceMs, options.historyLimit.bytes];
    for (const connection of [this.cmd, this.sub]) connection.on("error", (error) => this.report(error, "redis connection"));
    this.sub.on("smessageBuffer", (_channel: Buffer, message: Buffer) => this.onMessage(message));
  }

  static async connect(options: RedisBackendOptions): Promise<RedisBackend> {
    const backend = new RedisBackend(options);
    await Promise.all([backend.cmd.connect(), backend.sub.connect()]);
    await backend.sub.ssubscribe(`${backend.key}n:${backend.nodeId}`, `${backend.key}all`);
    await backend.tick();
    backend.connectedBefore = true;
    backend.cmd.on("ready", () => backend.reconnected());
    const tickMs = options.tickMs ?? 250;
    backend.timers.push(setInterval(() => void backend.tick(), tickMs));
    backend.timers.push(setInterval(() => backend.heartbeat(), options.heartbeatMs));
    for (const timer of backend.timers) timer.unref();
    return backend;
  }

  get localSessionCount(): number {
    return this.streams.size;
  }

  /** For the metrics: streams on this node; the deployment's calls (the same on every node). */
  get sessionCount(): number {
    return this.streams.size;
  }

  get callCount(): number {
    return this.cluster.ringing + this.cluster.active;
  }

  get ringingCallCount(): number {
    return this.cluster.ringing;
  }

  /** Users online in the whole deployment, as of the latest tick. */
  get usersOnline(): number {
    return this.cluster.users;
  }

  ready(): boolean {
    return this.cmd.status === "ready" && this.sub.status === "ready";
  }

  async join(request: JoinRequest, sink: Sink, joined: JoinedFactory): Promise<SessionHandle> {
    const { userId } = request;
    if (request.resume) {
      const sessionId = request.resume.sessionId;
      const stream = this.holdStream({ id: sessionId, userId }, sink);
      const reply = await this.run("attach", sessionId, userId, this.nodeId, request.resume.lastSeq.toString()).catch((error: unknown) => {
        this.dropStream(stream);
        throw error;
      });
      if (text(reply[0]) === "ok") {
        stream.gen = Number(reply[1]);
        const missed = reply[3] as Buffer[];
        const latest = request.resume.lastSeq + BigInt(missed.length);
        sink.push(create(SignalingMessageSchema, { seq: latest, event: { case: "joined", value: joined(stream.handle, true, texts(reply[4])) } }));
        stream.delivered = request.resume.lastSeq;
        sink.replay(missed.map((entry) => decodeEntry(entry).message));
        stream.delivered = latest;
        this.release(stream);
        return stream.handle;
      }
      this.dropStream(stream);
    }
    const stream = this.holdStream({ id: randomUUID(), userId }, sink);
    let reply: Reply[];
    try {
      reply = await this.run("open", userId, stream.handle.id, this.nodeId, request.watchPresence ? "1" : "0");
    } catch (error) {
      this.dropStream(stream);
      throw error;
    }
    if (text(reply[0]) === "taken") {
      this.dropStream(stream);
      throw new HubError("already_exists", ErrorReason.ID_TAKEN, `The ID "${userId}" is already online.`);
    }
    stream.gen = 1;
    stream.delivered = 1n;
    sink.push(create(SignalingMessageSchema, { seq: 1n, event: { case: "joined", value: joined(stream.handle, false, texts(reply[1])) } }));
    this.release(stream);
    return stream.handle;
  }

  streamEnded(session: SessionHandle, sink: Sink): void {
    const stream = this.streams.get(session.id);
    if (stream?.sink !== sink) return;
    this.streams.delete(session.id);
    this.run("detach", session.id, this.nodeId, String(stream.gen)).catch((error: unknown) => this.report(error, "detach"));
  }

  session(sessionId: string, userId: string): SessionHandle {
    const known = this.streams.get(sessionId)?.handle ?? this.handles.get(sessionId);
    if (known?.userId === userId) return known;
    const handle = { id: sessionId, userId };
    this.remember(handle);
    return handle;
  }

  async offer(from: SessionHandle, input: OfferInput): Promise<string> {
    const offer = (polite: boolean, renegotiation: boolean) =>
      encodeEvent({
        case: "offer",
        value: { sdp: input.sdp, renegotiation, polite, candidates: input.candidates ?? [], endOfCandidates: input.endOfCandidates ?? false },
      });
    if (input.callId !== "") {
      // A renegotiation to someone linked to the sender, or an invitation (the script adds who is
      // in the call to the offer): which one is for the script to tell.
      await this.inCall(from, "offer", input.callId, input.toUserId, offer(true, false), offer(true, true), offer(false, true));
      return input.callId;
    }
    const to = input.toUserId;
    if (to === from.userId) throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "You cannot call yourself.");
    const callId = randomUUID();
    const reply = await this.run("call", from.userId, from.id, to, callId, this.options.ringTimeoutMs, offer(true, false));
    switch (text(reply[0])) {
      case "ok":
        return callId;
      case "glare":
        throw new HubError("aborted", ErrorReason.CALL_GLARE, `${to} is already calling you.`, text(reply[1]));
      case "incall":
        throw new HubError("failed_precondition", ErrorReason.ALREADY_IN_CALL, "You are already in a call.");
      default:
        throw this.refusal(reply, callId, to);
    }
  }

  async answer(from: SessionHandle, input: AnswerInput): Promise<void> {
    const { callId, sdp, candidates = [], endOfCandidates = false, toUserId = "", ringing = false } = input;
    const answer = (polite: boolean) => encodeEvent({ case: "answer", value: { sdp, polite, candidates, endOfCandidates, ringing } });
    // Whoever hears that the sender joined joined earlier: the impolite side of that pair.
    const joined = ringing ? EMPTY : encodeEvent({ case: "participantJoined", value: { userId: from.userId, polite: false } });
    await this.inCall(from, ringing ? "ringanswer" : "answer", callId, toUserId, joined, answer(true), answer(false));
  }

  async candidates(from: SessionHandle, callId: string, candidates: IceCandidate[], endOfCandidates: boolean, toUserId = ""): Promise<void> {
    const payload = encodeEvent({ case: "iceCandidates", value: { candidates, endOfCandidates } });
    await this.inCall(from, "candidates", callId, toUserId, EMPTY, payload, payload);
  }

  async hangUp(from: SessionHandle, callId: string, requested: EndReason): Promise<EndReason> {
    const reply = await this.run("hangup", from.userId, from.id, callId, requested);
    if (text(reply[0]) !== "ok") throw this.refusal(reply, callId, "");
    return Number(reply[1]) as EndReason;
  }

  sendControl(session: SessionHandle, event: EventOf): boolean {
    const stream = this.streams.get(session.id);
    if (!stream || stream.pending) return false;
    stream.sink.push(control(stream, event));
    return true;
  }

  drain(reconnectAfterMs: number): void {
    for (const stream of this.streams.values()) {
      stream.sink.push(control(stream, { case: "draining", value: { reconnectAfterMs } }));
      stream.sink.end();
    }
  }

  onSessionClosed(listener: (sessionId: string) => void): void {
    this.closeListeners.push(listener);
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const stream of [...this.streams.values()]) {
      this.streams.delete(stream.handle.id);
      stream.sink.end();
      await this.run("detach", stream.handle.id, this.nodeId, String(stream.gen)).catch(() => undefined);
    }
    await this.run("leave", this.nodeId).catch(() => undefined);
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  /**
   * An offer, answer or candidates within a call: `extra` is the invitation's offer (an offer) or
   * participant_joined (an answer); `polite` and `impolite` the event for either receiver.
   */
  private async inCall(from: SessionHandle, op: string, callId: string, to: string, extra: Buffer, polite: Buffer, impolite: Buffer): Promise<void> {
    const { maxCallParticipants, ringTimeoutMs } = this.options;
    const reply = await this.run(op, from.userId, from.id, callId, to, maxCallParticipants, ringTimeoutMs, extra, polite, impolite);
    if (text(reply[0]) !== "ok") throw this.refusal(reply, callId, to);
  }

  /** A refusal the script returned for a call operation, as the hub words it. */
  private refusal(reply: Reply[], callId: string, to: string): HubError {
    const detail = text(reply[1]);
    switch (text(reply[0])) {
      case "ended":
        return new HubError("unauthenticated", ErrorReason.SESSION_ENDED, "This session has ended; join again.");
      case "nocall":
        return new HubError("not_found", ErrorReason.CALL_NOT_FOUND, "That call does not exist or has ended.");
      case "notin":
        return new HubError("permission_denied", ErrorReason.NOT_IN_CALL, "You are not a participant of that call.");
      case "offline":
        return new HubError("not_found", ErrorReason.USER_OFFLINE, `${to} is not online.`);
      case "busy":
        return new HubError("failed_precondition", ErrorReason.USER_BUSY, `${to} is busy in another call.`);
      case "wrongstate":
        return new HubError("failed_precondition", ErrorReason.WRONG_STATE, "Only the person being called can answer.");
      case "notringing":
        return new HubError("failed_precondition", ErrorReason.WRONG_STATE, "Only a phone that is still ringing sends a ringing answer.");
      case "several":
        return new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "This call has several people: say whom it is for (to_user_id).");
      case "notincall":
        return new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, `${to} is not in this call.`);
      case "notlinked":
        return new HubError("permission_denied", ErrorReason.NOT_IN_CALL, `You and ${to} are not connected in this call yet.`);
      case "answerinviter":
        return new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, `Your invitation came from ${detail}; answer them.`);
      case "notparticipant":
        return new HubError("permission_denied", ErrorReason.NOT_IN_CALL, "Only people in the call can add someone to it.");
      case "self":
        return new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "You cannot call yourself.");
      case "notactive":
        return new HubError("failed_precondition", ErrorReason.WRONG_STATE, "You can add people once the call has been answered.");
      case "invited":
        return new HubError("failed_precondition", ErrorReason.ALREADY_INVITED, `${to} is already being invited by ${detail}.`);
      case "full":
        return new HubError("failed_precondition", ErrorReason.CALL_FULL, `The call is full: at most ${detail} people.`);
      default:
        return new HubError("unavailable", ErrorReason.STORE_UNAVAILABLE, `Unexpected answer from the shared state for call ${callId}: ${text(reply[0])}.`);
    }
  }

  /** Registers a stream before its join runs, so events published meanwhile wait for it. */
  private holdStream(handle: SessionHandle, sink: Sink): LocalStream {
    const previous = this.streams.get(handle.id);
    const stream: LocalStream = { handle: previous?.handle ?? handle, sink, gen: 0, delivered: 0n, pending: [] };
    this.streams.set(handle.id, stream);
    // A newer stream of the same session replaces the old one, as on one node.
    previous?.sink.end();
    return stream;
  }

  private dropStream(stream: LocalStream): void {
    if (this.streams.get(stream.handle.id) === stream) this.streams.delete(stream.handle.id);
  }

  /** The join is done: what arrived meanwhile is pushed, and later events go straight through. */
  private release(stream: LocalStream): void {
    const pending = stream.pending ?? [];
    stream.pending = undefined;
    for (const entry of pending) this.push(stream, entry);
    this.remember(stream.handle);
  }

  private remember(handle: SessionHandle): void {
    this.handles.delete(handle.id);
    this.handles.set(handle.id, handle);
    // Bounded: the oldest goes first (a Map iterates in insertion order).
    if (this.handles.size > 50_000) this.handles.delete(this.handles.keys().next().value as string);
  }

  private push(stream: LocalStream, entry: Buffer): void {
    const { seq, message } = decodeEntry(entry);
    if (seq <= stream.delivered) return; // replayed already
    stream.delivered = seq;
    stream.sink.push(message);
  }

  private onMessage(message: Buffer): void {
    const kind = message[0];
    const idEnd = message.indexOf(SEPARATOR, 2);
    const sessionId = message.toString("latin1", 2, idEnd < 0 ? message.length : idEnd);
    const stream = this.streams.get(sessionId);
    if (kind === 0x78 /* x */) {
      // The session ended (on any node): its stream here, if any, ends; what is kept for it goes.
      if (stream) {
        this.streams.delete(sessionId);
        stream.sink.end();
      }
      this.sessionClosed(sessionId);
      return;
    }
    if (!stream) return;
    if (kind === 0x65 /* e */) {
      const timeEnd = message.indexOf(SEPARATOR, idEnd + 1);
      const publishedUs = Number(message.toString("latin1", idEnd + 1, timeEnd));
      this.options.observer?.delivered?.(performance.timeOrigin + performance.now() - publishedUs / 1000);
      const entry = message.subarray(timeEnd + 1);
      if (stream.pending) stream.pending.push(entry);
      else this.push(stream, entry);
    } else if (kind === 0x74 /* t */) {
      // Another node's stream took the session over.
      if (!stream.pending && stream.gen < Number(message.toString("latin1", idEnd + 1))) {
        this.streams.delete(sessionId);
        stream.sink.end();
      }
    }
  }

  private sessionClosed(sessionId: string): void {
    this.handles.delete(sessionId);
    for (const listener of this.closeListeners) listener(sessionId);
  }

  private heartbeat(): void {
    const serverTimeMs = BigInt(Date.now());
    for (const stream of this.streams.values()) {
      if (!stream.pending) stream.sink.push(control(stream, { case: "heartbeat", value: { serverTimeMs } }));
    }
  }

  private async tick(): Promise<void> {
    if (this.ticking || !this.ready()) return;
    this.ticking = true;
    try {
      const reply = await this.run("tick", this.nodeId, this.options.nodeTtlMs ?? 5_000);
      this.cluster = { users: Number(reply[1]), ringing: Number(reply[2]), active: Number(reply[3]) };
    } catch (error) {
      this.report(error, "tick");
    } finally {
      this.ticking = false;
    }
  }

  /**
   * Redis came back after an outage: events published meanwhile never reached this node, and
   * Redis may have lost state. Every stream ends, so its client resumes (replaying from Redis)
   * or, when its session is gone, joins afresh.
   */
  private reconnected(): void {
    if (!this.connectedBefore) return;
    for (const stream of [...this.streams.values()]) {
      this.streams.delete(stream.handle.id);
      stream.sink.end();
    }
  }

  private async run(op: string, ...args: ScriptArg[]): Promise<Reply[]> {
    let reply: Reply[];
    try {
      reply = await (this.cmd as unknown as ScriptCommand).p2bBuffer(this.key, op, ...this.config, ...args);
    } catch {
      throw new HubError("unavailable", ErrorReason.STORE_UNAVAILABLE, "The server cannot reach its shared state; try again shortly.");
    }
    // The script's last two lists: calls it ended (by reason) and accepted (setup ms).
    const setups = reply.pop() as number[];
    const ended = reply.pop() as number[];
    const observer = this.options.observer;
    if (observer) {
      for (const reason of ended) observer.callEnded(Number(reason) as EndReason);
      for (const ms of setups) observer.callAnswered(Number(ms));
    }
    return reply;
  }

  private report(error: unknown, what: string): void {
    this.options.onError?.(error, what);
  }
}

/** The command defineCommand adds; ioredis's types cannot know of it. */
interface ScriptCommand {
  p2bBuffer(key: string, ...args: ScriptArg[]): Promise<Reply[]>;
}

type EventOf = EventInit["event"];

/** An event's payload for the script (a Buffer: ioredis would send another Uint8Array as text). */
function encodeEvent(event: EventOf): Buffer {
  const bytes = toBinary(SignalingMessageSchema, create(SignalingMessageSchema, { event }));
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function control(stream: LocalStream, event: EventOf): SignalingMessage {
  return create(SignalingMessageSchema, { seq: stream.delivered, event });
}

/** An event entry of a session's history: "seq|from|callId|kind|payload". */
function decodeEntry(entry: Buffer): { seq: bigint; message: SignalingMessage } {
  const fields: string[] = [];
  let start = 0;
  for (let i = 0; i < 4; i++) {
    const end = entry.indexOf(SEPARATOR, start);
    fields.push(entry.toString("latin1", start, end));
    start = end + 1;
  }
  const [seqText = "0", fromUserId = "", callId = "", kind] = fields;
  const seq = BigInt(seqText);
  const payload = entry.subarray(start);
  if (kind === "p" || kind === "i") {
    // An invitation: who is in the call besides the inviter, then the offer.
    const split = kind === "i" ? payload.indexOf(SEPARATOR) : -1;
    const message = fromBinary(SignalingMessageSchema, payload.subarray(split + 1));
    message.seq = seq;
    message.fromUserId = fromUserId;
    message.callId = callId;
    if (split >= 0 && message.event.case === "offer") {
      const ids = payload.toString("latin1", 0, split);
      message.event.value.participantUserIds = ids === "" ? [] : ids.split(",");
    }
    return { seq, message };
  }
  const [first = "", second = ""] = payload.toString("latin1").split(",");
  const reason = Number(first) as EndReason;
  const message =
    kind === "c"
      ? create(SignalingMessageSchema, { seq, fromUserId, callId, event: { case: "callEnded", value: { reason, endedByUserId: second } } })
      : kind === "l"
        ? create(SignalingMessageSchema, { seq, fromUserId, callId, event: { case: "participantLeft", value: { userId: second, reason } } })
        : create(SignalingMessageSchema, { seq, fromUserId, callId, event: { case: "presence", value: { userId: first, online: second === "1" } } });
  return { seq, message };
}

function text(reply: Reply | undefined): string {
  return Buffer.isBuffer(reply) ? reply.toString() : String(reply ?? "");
}

function texts(reply: Reply | undefined): string[] {
  return Array.isArray(reply) ? reply.map(text) : [];
}
