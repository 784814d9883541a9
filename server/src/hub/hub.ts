import { EndReason, ErrorReason, type IceCandidate } from "@peertobeer/protocol";
import { Call, type Invite } from "./call.js";
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
  /** How many people a call may hold, invitees included (MAX_CALL_PARTICIPANTS). */
  maxCallParticipants: number;
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

export interface AnswerInput {
  callId: string;
  sdp: string;
  /** The first burst of candidates, relayed with the answer. */
  candidates?: IceCandidate[];
  endOfCandidates?: boolean;
  /** Whose offer it answers; empty when the sender is linked to one person only. */
  toUserId?: string;
  /**
   * The invitee's answer sent while the phone still rings, relayed to the inviter without
   * accepting anything (AnswerRequest.ringing); it may carry no candidates.
   */
  ringing?: boolean;
}

export interface HubSnapshot {
  sessions: { userId: string; id: string; attached: boolean; seq: string }[];
  calls: { id: string; caller: string; callee: string; state: string; participants: string[]; invited: string[] }[];
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

  /** Ends a session for good: it leaves its call as PEER_GONE and watchers see it go offline. */
  close(session: Session): void {
    session.end();
    if (this.sessionsById.get(session.id) !== session) return;
    this.sessionsById.delete(session.id);
    this.sessionsByUser.delete(session.userId);
    const call = this.callByUser.get(session.userId);
    if (call) this.leave(call, session.userId, EndReason.PEER_GONE, session.userId);
    this.broadcastPresence(session.userId, false);
    for (const listener of this.closeListeners) listener(session);
  }

  /**
   * Starts a call (empty callId), relays an offer to someone linked to the sender within a call,
   * or (callId set, to someone not in it) invites them into the call. Returns the call id.
   */
  offer(from: Session, input: OfferInput): string {
    if (input.callId !== "") {
      const call = this.memberCall(from, input.callId);
      const to = input.toUserId === "" ? this.soleLink(call, from.userId) : input.toUserId;
      if (call.linked(from.userId, to)) {
        this.deliver(to, from.userId, call.id, { case: "offer", value: this.offerEvent(input, true, call.isPolite(to, from.userId)) });
      } else {
        this.invite(call, from, to, input);
      }
      return call.id;
    }
    const to = input.toUserId;
    if (to === from.userId) {
      throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "You cannot call yourself.");
    }
    const own = this.callByUser.get(from.userId);
    if (own) {
      if (own.invites.get(from.userId)?.inviter === to) {
        // Both called each other at once: keep the call that exists; the client accepts it.
        throw new HubError("aborted", ErrorReason.CALL_GLARE, `${to} is already calling you.`, own.id);
      }
      throw new HubError("failed_precondition", ErrorReason.ALREADY_IN_CALL, "You are already in a call.");
    }
    this.checkReachable(to);
    const call = new Call(crypto.randomUUID(), from.userId, this.now());
    this.calls.set(call.id, call);
    this.callByUser.set(from.userId, call);
    this.ring(call, from.userId, to, { case: "offer", value: this.offerEvent(input, false, true) });
    return call.id;
  }

  /**
   * Accepts a ringing call or an invitation (the invitee), or answers an offer within a call;
   * a ringing answer only readies the inviter (AnswerInput.ringing).
   */
  answer(from: Session, input: AnswerInput): void {
    const { callId, sdp, candidates = [], endOfCandidates = false, toUserId = "", ringing = false } = input;
    const call = this.memberCall(from, callId);
    const answer = { sdp, polite: false, candidates, endOfCandidates, ringing };
    const invite = call.invites.get(from.userId);
    if (ringing && !invite) {
      throw new HubError("failed_precondition", ErrorReason.WRONG_STATE, "Only a phone that is still ringing sends a ringing answer.");
    }
    if (invite) {
      if (toUserId !== "" && toUserId !== invite.inviter) {
        throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, `Your invitation came from ${invite.inviter}; answer them.`);
      }
      if (ringing) {
        this.deliver(invite.inviter, from.userId, call.id, { case: "answer", value: { ...answer, polite: call.isPolite(invite.inviter, from.userId) } });
        return;
      }
      clearTimeout(invite.timer);
      call.invites.delete(from.userId);
      call.participants.push(from.userId);
      if (call.state === "ringing") {
        call.transition("active");
        this.options.observer?.callAnswered(this.now() - invite.at);
      }
      this.deliver(invite.inviter, from.userId, call.id, { case: "answer", value: { ...answer, polite: call.isPolite(invite.inviter, from.userId) } });
      // Everyone else in the call now offers the newcomer a connection of their own.
      for (const other of call.otherParticipants(from.userId)) {
        if (other === invite.inviter) continue;
        this.deliver(other, from.userId, call.id, {
          case: "participantJoined",
          value: { userId: from.userId, polite: call.isPolite(other, from.userId) },
        });
      }
      return;
    }
    const to = this.linkedPeer(call, from.userId, toUserId);
    if (call.invites.has(to)) {
      throw new HubError("failed_precondition", ErrorReason.WRONG_STATE, "Only the person being called can answer.");
    }
    this.deliver(to, from.userId, call.id, { case: "answer", value: { ...answer, polite: call.isPolite(to, from.userId) } });
  }

  /** Relays a burst of candidates to `toUserId` (see answer). */
  candidates(from: Session, callId: string, candidates: IceCandidate[], endOfCandidates: boolean, toUserId = ""): void {
    const call = this.memberCall(from, callId);
    const to = this.linkedPeer(call, from.userId, toUserId);
    this.deliver(to, from.userId, call.id, { case: "iceCandidates", value: { candidates, endOfCandidates } });
  }

  /**
   * Declines, cancels, hangs up or leaves; the recorded reason follows from the call's state and
   * the sender's place in it.
   */
  hangUp(from: Session, callId: string, requested: EndReason): EndReason {
    const call = this.memberCall(from, callId);
    const reason = call.endReasonFor(from.userId, requested);
    this.leave(call, from.userId, reason, from.userId);
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
      calls: [...this.calls.values()].map((c) => ({
        id: c.id,
        caller: c.caller,
        callee: c.callee,
        state: c.state,
        participants: [...c.participants],
        invited: [...c.invites.keys()],
      })),
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

  /** The call `from` is in (as a participant or being rung), or the refusal saying why not. */
  private memberCall(from: Session, callId: string): Call {
    const call = this.calls.get(callId);
    if (!call) throw new HubError("not_found", ErrorReason.CALL_NOT_FOUND, "That call does not exist or has ended.");
    if (!call.has(from.userId)) {
      throw new HubError("permission_denied", ErrorReason.NOT_IN_CALL, "You are not a participant of that call.");
    }
    return call;
  }

  /** Whom a request that names nobody is for: the one person the sender is linked to. */
  private soleLink(call: Call, from: string): string {
    const to = call.soleLink(from);
    if (to === undefined) {
      throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "This call has several people: say whom it is for (to_user_id).");
    }
    return to;
  }

  /** `to` (or, when empty, the sender's one link), if the sender may signal to them in `call`. */
  private linkedPeer(call: Call, from: string, to: string): string {
    if (to === "") return this.soleLink(call, from);
    if (call.linked(from, to)) return to;
    if (!call.has(to)) throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, `${to} is not in this call.`);
    throw new HubError("permission_denied", ErrorReason.NOT_IN_CALL, `You and ${to} are not connected in this call yet.`);
  }

  /** "Add person": a participant of an active call rings someone into it. */
  private invite(call: Call, from: Session, to: string, input: OfferInput): void {
    if (!call.isParticipant(from.userId)) {
      throw new HubError("permission_denied", ErrorReason.NOT_IN_CALL, "Only people in the call can add someone to it.");
    }
    if (to === from.userId) throw new HubError("invalid_argument", ErrorReason.INVALID_REQUEST, "You cannot call yourself.");
    if (call.state !== "active") {
      throw new HubError("failed_precondition", ErrorReason.WRONG_STATE, "You can add people once the call has been answered.");
    }
    const pending = call.invites.get(to);
    if (pending) {
      throw new HubError("failed_precondition", ErrorReason.ALREADY_INVITED, `${to} is already being invited by ${pending.inviter}.`);
    }
    if (call.size >= this.options.maxCallParticipants) {
      throw new HubError("failed_precondition", ErrorReason.CALL_FULL, `The call is full: at most ${this.options.maxCallParticipants} people.`);
    }
    this.checkReachable(to);
    const offer = { ...this.offerEvent(input, false, true), participantUserIds: call.otherParticipants(from.userId) };
    this.ring(call, from.userId, to, { case: "offer", value: offer });
  }

  /** Someone can be rung: online, and in no call (not even being rung for one). */
  private checkReachable(to: string): void {
    if (!this.sessionsByUser.has(to)) {
      throw new HubError("not_found", ErrorReason.USER_OFFLINE, `${to} is not online.`);
    }
    if (this.callByUser.has(to)) {
      throw new HubError("failed_precondition", ErrorReason.USER_BUSY, `${to} is busy in another call.`);
    }
  }

  private ring(call: Call, inviter: string, to: string, offer: EventInit["event"]): void {
    const timer = setTimeout(() => this.leave(call, to, EndReason.NO_ANSWER, ""), this.options.ringTimeoutMs);
    timer.unref?.();
    call.invites.set(to, { inviter, at: this.now(), timer });
    this.callByUser.set(to, call);
    this.deliver(to, inviter, call.id, offer);
  }

  /**
   * `userId` leaves `call` (hung up, declined, not answered, gone). A call left with fewer than two
   * people ends for everyone; otherwise the others hear who left (an invitation that failed, only
   * the inviter), and invitations the leaver sent are canceled.
   */
  private leave(call: Call, userId: string, reason: EndReason, endedBy: string): void {
    if (call.state === "ended") return;
    const invite = call.invites.get(userId);
    const remaining = call.size - 1;
    if (remaining < 2 || (!invite && call.participants.length <= 2)) {
      this.endCall(call, reason, endedBy);
      return;
    }
    if (invite) {
      this.dropInvite(call, userId, invite);
      if (userId !== endedBy) this.deliver(userId, endedBy, call.id, { case: "callEnded", value: { reason, endedByUserId: endedBy } });
      this.deliver(invite.inviter, userId, call.id, { case: "participantLeft", value: { userId, reason } });
      return;
    }
    call.participants.splice(call.participants.indexOf(userId), 1);
    if (this.callByUser.get(userId) === call) this.callByUser.delete(userId);
    for (const [invitee, sent] of call.invites) {
      if (sent.inviter !== userId) continue;
      this.dropInvite(call, invitee, sent);
      this.deliver(invitee, userId, call.id, { case: "callEnded", value: { reason: EndReason.CANCELED, endedByUserId: userId } });
    }
    for (const other of call.participants) {
      this.deliver(other, userId, call.id, { case: "participantLeft", value: { userId, reason } });
    }
  }

  private dropInvite(call: Call, invitee: string, invite: Invite): void {
    clearTimeout(invite.timer);
    call.invites.delete(invitee);
    if (this.callByUser.get(invitee) === call) this.callByUser.delete(invitee);
  }

  private endCall(call: Call, reason: EndReason, endedBy: string): void {
    if (call.state === "ended") return;
    const wasActive = call.state === "active";
    call.transition("ended");
    this.options.observer?.callEnded(reason);
    this.calls.delete(call.id);
    const everyone = [...call.participants.map((id) => ({ id, invited: false })), ...[...call.invites.keys()].map((id) => ({ id, invited: true }))];
    for (const { id, invited } of everyone) {
      if (this.callByUser.get(id) === call) this.callByUser.delete(id);
      // Whoever ended it already knows; everyone else is told why (someone still being rung into
      // a call that went on without them: it was canceled).
      if (id !== endedBy) {
        const told = invited && wasActive ? EndReason.CANCELED : reason;
        this.deliver(id, endedBy, call.id, { case: "callEnded", value: { reason: told, endedByUserId: endedBy } });
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
