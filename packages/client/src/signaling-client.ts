import { createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  EndReason,
  IceTransportPolicy,
  SignalingService,
  type IceCandidate,
  type IceServer,
  type SignalingMessage,
} from "@peertobeer/protocol";
import { Emitter } from "./emitter.js";
import { Code, SignalingError } from "./errors.js";
import { DefaultReconnectPolicy, type ReconnectPolicy } from "./reconnect-policy.js";

export type ConnectionState = "idle" | "connecting" | "online" | "reconnecting" | "closed";

export interface JoinedInfo {
  userId: string;
  sessionId: string;
  resumed: boolean;
  /** STUN/TURN servers (TURN with credentials of this session) and the transport policy. */
  rtcConfiguration: RTCConfiguration;
  onlineUserIds: string[];
  /** The server's connect timeout for calls (CONNECT_TIMEOUT_MS), if it sets one. */
  connectTimeoutMs: number | undefined;
  /** How many people a call may hold (MAX_CALL_PARTICIPANTS), if the server says. */
  maxCallParticipants: number | undefined;
}

/** Candidates that travel with an offer or answer (the first burst) rather than on their own. */
export interface CandidateBurst {
  candidates: RTCIceCandidateInit[];
  endOfCandidates: boolean;
}

const NO_CANDIDATES: CandidateBurst = { candidates: [], endOfCandidates: false };

export interface SignalingEvents extends Record<string, unknown> {
  state: ConnectionState;
  joined: JoinedInfo;
  /** The server no longer knew our session and started a new one: calls it held are gone. */
  sessionReset: undefined;
  /** `participants`: on an invitation into a group call, who else is in it besides `from`. */
  offer: { callId: string; from: string; sdp: string; renegotiation: boolean; polite: boolean; burst: CandidateBurst; participants: string[] };
  /** `ringing`: sent while the callee's phone still rings; it accepts nothing (AnswerRequest.ringing). */
  answer: { callId: string; from: string; sdp: string; polite: boolean; burst: CandidateBurst; ringing: boolean };
  candidates: { callId: string; from: string; candidates: RTCIceCandidateInit[]; endOfCandidates: boolean };
  callEnded: { callId: string; from: string; reason: EndReason };
  /** Someone accepted an invitation into our group call: offer them a connection. */
  participantJoined: { callId: string; userId: string; polite: boolean };
  /** Someone left a group call that goes on, or an invitation we sent failed (`reason` says how). */
  participantLeft: { callId: string; userId: string; reason: EndReason };
  presence: { userId: string; online: boolean };
  /**
   * Fresh ICE servers (TURN credentials about to expire were replaced); `rtcConfiguration`
   * already holds them. Live peer connections should take them (PeerCall.setConfiguration).
   */
  iceServers: RTCConfiguration;
  /** Reconnecting stopped for good (e.g. the ID was taken meanwhile). */
  failed: SignalingError;
  /** Every numbered event, once, in order (for diagnostics and tests of resume). */
  sequenced: { seq: bigint; kind: string };
}

/** Where a session survives a page reload (sessionStorage in browsers). */
export interface SessionStore {
  load(): StoredSession | undefined;
  save(session: StoredSession): void;
  clear(): void;
}

export interface StoredSession {
  userId: string;
  token: string;
  lastSeq: string;
}

export interface SignalingClientOptions {
  transport: Transport;
  reconnectPolicy?: ReconnectPolicy;
  store?: SessionStore;
  /** Receive presence events (the lobby's online list). */
  watchPresence?: boolean;
}

/** Errors after which reconnecting cannot help. */
const PERMANENT = new Set<Code>([Code.InvalidArgument, Code.AlreadyExists, Code.PermissionDenied]);

/**
 * The signaling session of one user: keeps the JoinCall stream open, resumes it after a cut
 * (replaying what was missed, without duplicates), and sends the unary RPCs with the session
 * token. Framework-agnostic; the transport is injected (gRPC-Web in browsers).
 */
export class SignalingClient extends Emitter<SignalingEvents> {
  private readonly rpc: Client<typeof SignalingService>;
  private readonly policy: ReconnectPolicy;
  private current: ConnectionState = "idle";
  private userId = "";
  private token = "";
  private sessionId = "";
  private lastSeq = 0n;
  private streamAbort: AbortController | undefined;
  private watchdog: ReturnType<typeof setTimeout> | undefined;
  private heartbeatMs = 5000;
  private wakeRetry: (() => void) | undefined;
  /** What peer connections of this session use, from the latest `joined`. */
  rtcConfiguration: RTCConfiguration = { iceServers: [] };
  /** How long calls may try to connect, from the latest `joined` (undefined: the SDK's default). */
  connectTimeoutMs: number | undefined;
  /** How many people a call may hold, from the latest `joined` (undefined: the server did not say). */
  maxCallParticipants: number | undefined;

  constructor(private readonly options: SignalingClientOptions) {
    super();
    this.rpc = createClient(SignalingService, options.transport);
    this.policy = options.reconnectPolicy ?? new DefaultReconnectPolicy();
  }

  get state(): ConnectionState {
    return this.current;
  }

  get user(): string {
    return this.userId;
  }

  /** A user ID stored by an earlier page of this tab, to rejoin without asking. */
  storedUserId(): string | undefined {
    return this.options.store?.load()?.userId;
  }

  /**
   * Joins as `userId` (resuming this tab's stored session of that user if there is one).
   * Resolves once the server confirmed; rejects with a SignalingError (ID taken, invalid ID,
   * server unreachable) and then stays idle.
   */
  join(userId: string): Promise<JoinedInfo> {
    if (this.current !== "idle" && this.current !== "closed") throw new Error("already joined");
    this.userId = userId;
    const stored = this.options.store?.load();
    if (stored?.userId === userId) {
      this.token = stored.token;
      this.lastSeq = BigInt(stored.lastSeq);
    } else {
      this.token = "";
      this.lastSeq = 0n;
    }
    this.setState("connecting");
    return new Promise((resolve, reject) => {
      void this.run(resolve, reject);
    });
  }

  /** Leaves for good: the stream closes and the server ends the session after its grace. */
  leave(): void {
    this.options.store?.clear();
    this.setState("closed");
    this.stopStream();
    this.wakeRetry?.();
  }

  /** Starts a call (no `callId`) or renegotiates one; resolves with the call's id. */
  async sendOffer(toUserId: string, sdp: string, callId = "", burst: CandidateBurst = NO_CANDIDATES): Promise<string> {
    const request = { toUserId, sdp, callId, ...toWireBurst(burst) };
    const response = await this.unary(() => this.rpc.sendOffer(request, this.callOptions()));
    return response.callId;
  }

  /**
   * `toUserId`: whose offer this answers (needed once a call has more than two people).
   * `ringing`: the answer goes while the phone still rings, accepting nothing, with no candidates.
   */
  async sendAnswer(callId: string, sdp: string, burst: CandidateBurst = NO_CANDIDATES, toUserId = "", ringing = false): Promise<void> {
    const request = { callId, sdp, toUserId, ringing, ...toWireBurst(burst) };
    await this.unary(() => this.rpc.sendAnswer(request, this.callOptions()));
  }

  async sendIceCandidates(callId: string, candidates: RTCIceCandidateInit[], endOfCandidates: boolean, toUserId = ""): Promise<void> {
    const request = { callId, toUserId, ...toWireBurst({ candidates, endOfCandidates }) };
    await this.unary(() => this.rpc.sendIceCandidate(request, this.callOptions()));
  }

  async endCall(callId: string, reason: EndReason = EndReason.HANGUP): Promise<void> {
    await this.unary(() => this.rpc.endCall({ callId, reason }, this.callOptions()));
  }

  private callOptions() {
    return { headers: { authorization: `Bearer ${this.token}` } };
  }

  /**
   * Runs an RPC once the session is online, waiting out a reconnect. A request that could not
   * reach the server (node restarting) is sent again once the stream is back.
   */
  private async unary<T>(send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.current === "reconnecting" || this.current === "connecting") await this.onlineAgain();
      try {
        return await send();
      } catch (caught) {
        const error = SignalingError.from(caught);
        if (!error.unreachable || attempt >= 2 || this.isClosed()) throw error;
        if (this.current === "online") this.setState("reconnecting");
        this.streamAbort?.abort();
      }
    }
  }

  private onlineAgain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const off = this.on("state", (state) => {
        if (state === "online") {
          off();
          resolve();
        } else if (state === "closed" || state === "idle") {
          off();
          reject(new SignalingError(Code.Unavailable, undefined, "Not connected to the server.", undefined));
        }
      });
    });
  }

  private async run(resolve: (info: JoinedInfo) => void, reject: (error: SignalingError) => void): Promise<void> {
    let pending: { resolve: typeof resolve; reject: typeof reject } | undefined = { resolve, reject };
    let attempt = 0;
    while (!this.isClosed()) {
      const abort = new AbortController();
      this.streamAbort = abort;
      let error: SignalingError | undefined;
      try {
        this.armWatchdog();
        const stream = this.rpc.joinCall(
          { userId: this.userId, resumeToken: this.token, lastSeq: this.lastSeq, watchPresence: this.options.watchPresence ?? false },
          { signal: abort.signal },
        );
        for await (const message of stream) {
          this.armWatchdog();
          const joined = this.handle(message, abort);
          if (joined) {
            attempt = 0;
            pending?.resolve(joined);
            pending = undefined;
          }
        }
      } catch (caught) {
        error = SignalingError.from(caught);
      } finally {
        clearTimeout(this.watchdog);
      }
      if (this.isClosed()) break;
      if (pending) {
        // The first join failed: report it; the user decides what to do.
        this.options.store?.clear();
        this.setState("idle");
        pending.reject(error ?? new SignalingError(Code.Unavailable, undefined, "The server closed the connection.", undefined));
        return;
      }
      if (error && PERMANENT.has(error.code)) {
        this.options.store?.clear();
        this.setState("closed");
        this.emit("failed", error);
        return;
      }
      const delay = this.policy.nextDelay(attempt++);
      if (delay === null) {
        this.setState("closed");
        this.emit("failed", error ?? new SignalingError(Code.Unavailable, undefined, "Could not reconnect.", undefined));
        return;
      }
      this.setState("reconnecting");
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, delay);
        this.wakeRetry = () => {
          clearTimeout(timer);
          wake();
        };
      });
      this.wakeRetry = undefined;
    }
  }

  /** Applies one stream message; returns the join info when it was `joined`. */
  private handle(message: SignalingMessage, stream: AbortController): JoinedInfo | undefined {
    const { event } = message;
    switch (event.case) {
      case "joined": {
        const info: JoinedInfo = {
          userId: this.userId,
          sessionId: event.value.sessionId,
          resumed: event.value.resumed,
          rtcConfiguration: {
            iceServers: event.value.iceServers.map(fromWireIceServer),
            iceTransportPolicy: event.value.iceTransportPolicy === IceTransportPolicy.RELAY ? "relay" : "all",
          },
          onlineUserIds: event.value.onlineUserIds,
          connectTimeoutMs: event.value.connectTimeoutMs || undefined,
          maxCallParticipants: event.value.maxCallParticipants || undefined,
        };
        const reset = !event.value.resumed && this.sessionId !== "" && this.sessionId !== info.sessionId;
        this.sessionId = info.sessionId;
        this.token = event.value.sessionToken;
        this.heartbeatMs = event.value.heartbeatIntervalMs || this.heartbeatMs;
        this.rtcConfiguration = info.rtcConfiguration;
        this.connectTimeoutMs = info.connectTimeoutMs;
        this.maxCallParticipants = info.maxCallParticipants;
        if (!event.value.resumed) this.lastSeq = message.seq;
        this.persist();
        this.setState("online");
        if (reset) this.emit("sessionReset", undefined);
        this.emit("joined", info);
        return info;
      }
      case "heartbeat":
        return undefined;
      case "iceServersUpdate":
        this.rtcConfiguration = { ...this.rtcConfiguration, iceServers: event.value.iceServers.map(fromWireIceServer) };
        this.emit("iceServers", this.rtcConfiguration);
        return undefined;
      case "draining":
        // The node is going away: reconnect now (the policy's first delay is 0).
        stream.abort();
        return undefined;
      case undefined:
        return undefined;
    }
    if (message.seq <= this.lastSeq) return undefined; // already processed before a resume
    this.lastSeq = message.seq;
    this.persist();
    this.emit("sequenced", { seq: message.seq, kind: event.case });
    const from = message.fromUserId;
    const callId = message.callId;
    switch (event.case) {
      case "offer":
        this.emit("offer", {
          callId,
          from,
          ...pick(event.value, "sdp", "renegotiation", "polite"),
          burst: fromWireBurst(event.value),
          participants: event.value.participantUserIds,
        });
        break;
      case "answer":
        this.emit("answer", { callId, from, ...pick(event.value, "sdp", "polite", "ringing"), burst: fromWireBurst(event.value) });
        break;
      case "iceCandidates":
        this.emit("candidates", { callId, from, ...fromWireBurst(event.value) });
        break;
      case "callEnded":
        this.emit("callEnded", { callId, from, reason: event.value.reason });
        break;
      case "participantJoined":
        this.emit("participantJoined", { callId, userId: event.value.userId, polite: event.value.polite });
        break;
      case "participantLeft":
        this.emit("participantLeft", { callId, userId: event.value.userId, reason: event.value.reason });
        break;
      case "presence":
        this.emit("presence", { userId: event.value.userId, online: event.value.online });
        break;
    }
    return undefined;
  }

  /** Two missed heartbeats mean the stream is dead even if the socket has not noticed. */
  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    const abort = this.streamAbort;
    this.watchdog = setTimeout(() => abort?.abort(), this.heartbeatMs * 2 + 1000);
  }

  private stopStream(): void {
    clearTimeout(this.watchdog);
    this.streamAbort?.abort();
  }

  private persist(): void {
    this.options.store?.save({ userId: this.userId, token: this.token, lastSeq: this.lastSeq.toString() });
  }

  /** Read through a method: `leave()` can change the state while `run()` awaits. */
  private isClosed(): boolean {
    return this.current === "closed";
  }

  private setState(next: ConnectionState): void {
    if (next === this.current) return;
    this.current = next;
    this.emit("state", next);
  }
}

function pick<T, K extends keyof T>(value: T, ...keys: K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) out[key] = value[key];
  return out;
}

function fromWireIceServer(server: IceServer): RTCIceServer {
  return {
    urls: server.urls,
    ...(server.username ? { username: server.username } : {}),
    ...(server.credential ? { credential: server.credential } : {}),
  };
}

function toWireBurst(burst: CandidateBurst) {
  return { candidates: burst.candidates.map(toWireCandidate), endOfCandidates: burst.endOfCandidates };
}

function fromWireBurst(value: { candidates: IceCandidate[]; endOfCandidates: boolean }): CandidateBurst {
  return { candidates: value.candidates.map(fromWireCandidate), endOfCandidates: value.endOfCandidates };
}

export function toWireCandidate(c: RTCIceCandidateInit): Omit<IceCandidate, "$typeName"> {
  return {
    candidate: c.candidate ?? "",
    sdpMid: c.sdpMid ?? undefined,
    sdpMlineIndex: c.sdpMLineIndex ?? undefined,
    usernameFragment: c.usernameFragment ?? undefined,
  };
}

export function fromWireCandidate(c: IceCandidate): RTCIceCandidateInit {
  return {
    candidate: c.candidate,
    ...(c.sdpMid !== undefined ? { sdpMid: c.sdpMid } : {}),
    ...(c.sdpMlineIndex !== undefined ? { sdpMLineIndex: c.sdpMlineIndex } : {}),
    ...(c.usernameFragment !== undefined ? { usernameFragment: c.usernameFragment } : {}),
  };
}
