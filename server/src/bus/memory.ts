import type { EndReason, IceCandidate } from "@peertobeer/protocol";
import { Hub, type AnswerInput, type EventInit, type HubOptions, type OfferInput, type Session, type Sink } from "../hub/index.js";
import type { JoinedFactory, JoinRequest, SessionHandle, SignalingBackend } from "./backend.js";

/**
 * One node: the hub's sessions, calls and histories in this process's memory, delivered to the
 * streams directly. The default, and what the cluster backend must behave like.
 */
export class MemoryBackend implements SignalingBackend {
  readonly hub: Hub;

  constructor(options: HubOptions) {
    this.hub = new Hub(options);
    this.hub.start();
  }

  get localSessionCount(): number {
    return this.hub.sessionCount;
  }

  ready(): boolean {
    return true;
  }

  async join(request: JoinRequest, sink: Sink, joined: JoinedFactory): Promise<SessionHandle> {
    const resumed = this.resumable(request);
    const session = resumed ?? this.hub.open(request.userId, request.watchPresence);
    this.hub.attach(session, sink);
    const online = session.watchPresence ? this.hub.onlineUserIds().filter((id) => id !== session.userId) : [];
    if (resumed) {
      session.control({ event: { case: "joined", value: joined(session, true, online) } });
      session.replayAfter(request.resume?.lastSeq ?? 0n);
    } else {
      session.send({ event: { case: "joined", value: joined(session, false, online) } });
    }
    return session;
  }

  /** The session to resume; one that cannot replay everything the client missed ends. */
  private resumable(request: JoinRequest): Session | undefined {
    const resume = request.resume;
    if (!resume) return undefined;
    const session = this.hub.resumable(resume.sessionId, resume.lastSeq);
    if (session?.userId === request.userId) return session;
    const stale = this.hub.sessionById(resume.sessionId);
    if (stale?.userId === request.userId) this.hub.close(stale);
    return undefined;
  }

  streamEnded(session: SessionHandle, sink: Sink): void {
    const live = this.hub.sessionById(session.id);
    if (live) this.hub.detach(live, sink);
  }

  session(sessionId: string, userId: string): SessionHandle | undefined {
    const session = this.hub.sessionById(sessionId);
    return session?.userId === userId ? session : undefined;
  }

  async offer(from: SessionHandle, input: OfferInput): Promise<string> {
    return this.hub.offer(this.live(from), input);
  }

  async answer(from: SessionHandle, input: AnswerInput): Promise<void> {
    this.hub.answer(this.live(from), input);
  }

  async candidates(from: SessionHandle, callId: string, candidates: IceCandidate[], endOfCandidates: boolean, toUserId = ""): Promise<void> {
    this.hub.candidates(this.live(from), callId, candidates, endOfCandidates, toUserId);
  }

  async hangUp(from: SessionHandle, callId: string, requested: EndReason): Promise<EndReason> {
    return this.hub.hangUp(this.live(from), callId, requested);
  }

  sendControl(session: SessionHandle, event: EventInit["event"]): boolean {
    const live = this.hub.sessionById(session.id);
    if (!live?.attached) return false;
    live.control({ event });
    return true;
  }

  drain(reconnectAfterMs: number): void {
    this.hub.drain(reconnectAfterMs);
  }

  onSessionClosed(listener: (sessionId: string) => void): void {
    this.hub.onSessionClosed((session) => listener(session.id));
  }

  async close(): Promise<void> {
    this.hub.stop();
  }

  /** The handles this backend gives out are its sessions. */
  private live(handle: SessionHandle): Session {
    return handle as Session;
  }
}
