import { EndReason, ErrorReason, type IceCandidate } from "@peertobeer/protocol";
import { Call } from "./call.js";
import { HubError } from "./errors.js";
import { Session, type EventInit, type HistoryLimit, type Sink } from "./session.js";

export interface HubOptions {
  ringTimeoutMs: number;
  /** How long a session outlives its stream, waiting to be resumed. */
  sessionGraceMs: number;
  heartbeatMs: number;
  /** Events kept per session for replay on resume. */
  historyLimit: HistoryLimit;
  now?: () => number;
  /** Told of call outcomes (metrics); must not throw. */
  observer?: HubObserver;
}

export interface HubObserver {
  /** A ringing call was accepted `setupMs` after its first offer. */
  callAnswered(setupMs: number): void;
  callEnded(reason: EndReason): void;
}

export interface OfferInput {
  toUserId: string;
  callId: string;
  sdp: string;
  /** The first burst of candidates, relayed with the offer. */
  candidates?: IceCandidate[];
  endOfCandidates?: boolean;
}

export interface HubSnapshot {
  sessions: { userId: string; id: string; attached: boolean; seq: string }[];
  calls: { id: string; caller: string; callee: string; state: string }[];
}

/**
 * The signaling domain: who is online, which calls exist, and who receives what.
 * It knows nothing of gRPC or HTTP; transports call it with an authenticated sender.
 */
export class Hub {
  private readonly sessionsByUser = new Map<string, Session>();
  private readonly sessionsById = new Map<string, Session>();
  private readonly calls = new Map<string, Call>();
  private readonly callByUser = new Map<string, Call>();
  private readonly now: () => number;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly closeListeners: ((session: Session) => void)[] = [];

  constructor(private readonly options: HubOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Starts the one shared heartbeat timer (a timer per stream would cost per idle session). */
  start(): void {
    this.heartbeatTimer ??= setInterval(() => this.heartbeat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref?.();
  }

  stop(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    for (const session of [...this.sessionsById.values()]) this.close(session);
  }

  /** Calls `listener` whenever a session ends for good (what others keep per session can go). */
  onSessionClosed(listener: (session: Session) => void): void {
    this.closeListeners.push(listener);
  }

  get sessionCount(): number {
    return this.sessionsById.size;
  }

  /** Events all sessions keep for a resume. */
  get keptEventCount(): number {
    let count = 0;
    for (const session of this.sessionsById.values()) count += session.keptEvents;
    return count;
  }

  get callCount(): number {
    return this.calls.size;
  }

  get ringingCallCount(): number {
    let count = 0;
    for (const call of this.calls.values()) if (call.state === "ringing") count += 1;
    return count;
  }

  onlineUserIds(): string[] {
    return [...this.sessionsByUser.keys()];
  }

  sessionById(id: string): Session | undefined {
    return this.sessionsById.get(id);
  }

  /**
   * Opens a new session for `userId`. A user with a live stream keeps the ID; a session whose
   * stream is gone (closed tab, dead network) is replaced, ending its call as PEER_GONE.
   */
  open(userId: string, watchPresence: boolean): Session {
    const existing = this.sessionsByUser.get(userId);
    if (existing?.attached) {
      throw new HubError("already_exists", ErrorReason.ID_TAKEN, `The ID "${userId}" is already online.`);
    }
    if (existing) this.close(existing);
    const session = new Session(crypto.randomUUID(), userId, watchPresence, this.options.historyLimit, this.now);
    this.sessionsByUser.set(userId, session);
    this.sessionsById.set(session.id, session);
    this.broadcastPresence(userId, true);
    return session;
  }

  /** The session to resume, if it still exists and every event after `afterSeq` can be replayed. */
  resumable(sessionId: string, afterSeq: bigint): Session | undefined {
    const session = this.sessionsById.get(sessionId);
    return session?.canReplayAfter(afterSeq) ? session : undefined;
  }

  attach(session: Session, sink: Sink): void {
    session.attach(sink);
  }

  /** The stream behind `sink` ended: the session waits out the grace period for a resume. */
  detach(session: Session, sink: Sink): void {
    if (!session.detach(sink)) return;
    if (!this.sessionsById.has(session.id)) return;
    session.graceTimer = setTimeout(() => this.close(session), this.options.sessionGraceMs);
    session.graceTimer.unref?.();
  }

  /** Ends a session for good: its call ends as PEER_GONE and watchers see it go offline. */
  close(session: Session): void {
    session.end();
    if (this.sessionsById.get(session.id) !== session) return;
    this.sessionsById.delete(session.id);
    this.sessionsByUser.delete(session.userId);
    const call = this.callByUser.get(session.userId);
    if (call) this.endCall(call, EndReason.PEER_GONE, session.userId);
    this.broadcastPresence(session.userId, false);
    for (const listener of this.closeListeners) listener(session);
  }

  /** Starts a call (empty callId) or relays a renegotiation offer within one. Returns the call id. */
  offer(from: Session, input: OfferInput): string {
    if (input.callId !== "") {
      const call = this.participantCall(from, input.callId);
      const to = call.peerOf(from.userId);
      if (input.toUserId !== "" && input.toUserId !== to) {
        throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, `Call ${call.id} is with ${to}, not ${input.toUserId}.`);
      }
      this.deliver(to, from.userId, call.id, { case: "offer", value: this.offerEvent(input, true, call.isPolite(to)) });
      return call.id;
    }
    const to = input.toUserId;
    if (to === from.userId) {
      throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "You cannot call yourself.");
    }
    const own = this.callByUser.get(from.userId);
    if (own) {
      if (own.state === "ringing" && own.caller === to) {
        // Both called each other at once: keep the call that exists; the client accepts it.
        throw new HubError("aborted", ErrorReason.CALL_GLARE, `${to} is already calling you.`, own.id);
      }
      throw new HubError("failed_precondition", ErrorReason.ALREADY_IN_CALL, "You are already in a call.");
    }
    if (!this.sessionsByUser.has(to)) {
      throw new HubError("not_found", ErrorReason.USER_OFFLINE, `${to} is not online.`);
    }
    if (this.callByUser.has(to)) {
      throw new HubError("failed_precondition", ErrorReason.USER_BUSY, `${to} is busy in another call.`);
    }
    const call = new Call(crypto.randomUUID(), from.userId, to, this.now());
    this.calls.set(call.id, call);
    this.callByUser.set(from.userId, call);
    this.callByUser.set(to, call);
    call.ringTimer = setTimeout(() => this.endCall(call, EndReason.NO_ANSWER, ""), this.options.ringTimeoutMs);
    call.ringTimer.unref?.();
    this.deliver(to, from.userId, call.id, { case: "offer", value: this.offerEvent(input, false, call.isPolite(to)) });
    return call.id;
  }

  /** Accepts a ringing call (callee only) or answers a renegotiation. */
  answer(from: Session, callId: string, sdp: string, candidates: IceCandidate[] = [], endOfCandidates = false): void {
    const call = this.participantCall(from, callId);
    if (call.state === "ringing") {
      if (from.userId !== call.callee) {
        throw new HubError("failed_precondition", ErrorReason.WRONG_STATE, "Only the person being called can answer.");
      }
      call.transition("active");
      this.options.observer?.callAnswered(this.now() - call.startedAt);
    }
    const to = call.peerOf(from.userId);
    this.deliver(to, from.userId, call.id, {
      case: "answer",
      value: { sdp, polite: call.isPolite(to), candidates, endOfCandidates },
    });
  }

  candidates(
    from: Session,
    callId: string,
    candidates: IceCandidate[],
    endOfCandidates: boolean,
  ): void {
    const call = this.participantCall(from, callId);
    this.deliver(call.peerOf(from.userId), from.userId, call.id, {
      case: "iceCandidates",
      value: { candidates, endOfCandidates },
    });
  }

  /** Declines, cancels or hangs up; the recorded reason follows from the call's state. */
  hangUp(from: Session, callId: string, requested: EndReason): EndReason {
    const call = this.participantCall(from, callId);
    const reason = call.endReasonFor(from.userId, requested);
    this.endCall(call, reason, from.userId);
    return reason;
  }

  /**
   * Tells every stream the node is going away and ends it, so clients reconnect elsewhere now.
   * Sessions stay, waiting out their grace period, for a resume.
   */
  drain(reconnectAfterMs: number): void {
    for (const session of this.sessionsById.values()) {
      session.control({ event: { case: "draining", value: { reconnectAfterMs } } });
      session.endStream();
    }
  }

  snapshot(): HubSnapshot {
    return {
      sessions: [...this.sessionsById.values()].map((s) => ({
        userId: s.userId,
        id: s.id,
        attached: s.attached,
        seq: s.seq.toString(),
      })),
      calls: [...this.calls.values()].map((c) => ({ id: c.id, caller: c.caller, callee: c.callee, state: c.state })),
    };
  }

  private offerEvent(input: OfferInput, renegotiation: boolean, polite: boolean) {
    return {
      sdp: input.sdp,
      renegotiation,
      polite,
      candidates: input.candidates ?? [],
      endOfCandidates: input.endOfCandidates ?? false,
    };
  }

  private heartbeat(): void {
    const now = this.now();
    const serverTimeMs = BigInt(now);
    const forgetBefore = now - this.historyAgeMs();
    for (const session of this.sessionsById.values()) {
      session.forgetBefore(forgetBefore);
      session.control({ event: { case: "heartbeat", value: { serverTimeMs } } });
    }
  }

  /**
   * How long an event stays in a session's history. A resume needs it only until the client has
   * noticed a dead stream (two missed heartbeats and a second, PROTOCOL.md) and come back within
   * the grace period; after that the session has either resumed or ended. So a finished call's
   * SDPs leave memory about half a minute after it (at the defaults), not only once newer calls
   * push them out.
   */
  private historyAgeMs(): number {
    return this.options.sessionGraceMs + 2 * this.options.heartbeatMs + 1_000;
  }

  private participantCall(from: Session, callId: string): Call {
    const call = this.calls.get(callId);
    if (!call) throw new HubError("not_found", ErrorReason.CALL_NOT_FOUND, "That call does not exist or has ended.");
    if (!call.has(from.userId)) {
      throw new HubError("permission_denied", ErrorReason.NOT_IN_CALL, "You are not a participant of that call.");
    }
    return call;
  }

  private endCall(call: Call, reason: EndReason, endedBy: string): void {
    if (call.state === "ended") return;
    call.transition("ended");
    this.options.observer?.callEnded(reason);
    this.calls.delete(call.id);
    for (const userId of [call.caller, call.callee]) {
      if (this.callByUser.get(userId) === call) this.callByUser.delete(userId);
      // Whoever ended it already knows; everyone else is told why.
      if (userId !== endedBy) {
        this.deliver(userId, endedBy, call.id, { case: "callEnded", value: { reason, endedByUserId: endedBy } });
      }
    }
  }

  private deliver(
    toUserId: string,
    fromUserId: string,
    callId: string,
    event: EventInit["event"],
  ): void {
    this.sessionsByUser.get(toUserId)?.send({ fromUserId, callId, event });
  }

  private broadcastPresence(userId: string, online: boolean): void {
    for (const session of this.sessionsById.values()) {
      if (session.watchPresence && session.userId !== userId) {
        session.send({ event: { case: "presence", value: { userId, online } } });
      }
    }
  }
}
