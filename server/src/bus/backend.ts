import type { EndReason, IceCandidate, Joined } from "@peertobeer/protocol";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { JoinedSchema } from "@peertobeer/protocol";
import type { EventInit, AnswerInput, HubObserver, OfferInput, Sink } from "../hub/index.js";

/** Who sent a request: the session a verified token names. */
export interface SessionHandle {
  readonly id: string;
  readonly userId: string;
}

export interface JoinRequest {
  userId: string;
  watchPresence: boolean;
  /** The session to continue and the last event its client processed, when resuming. */
  resume?: { sessionId: string; lastSeq: bigint };
}

export type JoinedInit = MessageInitShape<typeof JoinedSchema>;

/** Builds a session's `joined` event (the token and ICE servers are the RPC layer's business). */
export type JoinedFactory = (session: SessionHandle, resumed: boolean, onlineUserIds: string[]) => JoinedInit;

/**
 * Where sessions, calls and each session's event history live, and how events reach the
 * stream that holds a session: in this process's memory (one node), or in Redis (cluster mode,
 * any node takes any request). Both pass test/backend-contract.test.ts.
 *
 * Failures are HubErrors (domain refusals) or, for an unreachable store, a HubError of kind
 * "unavailable".
 */
export interface SignalingBackend {
  /** Sessions whose stream this node holds (MAX_SESSIONS counts these). */
  readonly localSessionCount: number;
  /** False while the backend cannot serve (Redis unreachable): /readyz answers 503. */
  ready(): boolean;
  /**
   * Opens a session for the user, or resumes `request.resume` when every event after its
   * `lastSeq` can be replayed (otherwise that session ends and a new one opens), and attaches
   * `sink`: the `joined` event and any replay have been pushed when this resolves.
   */
  join(request: JoinRequest, sink: Sink, joined: JoinedFactory): Promise<SessionHandle>;
  /** The stream behind `sink` ended: the session waits out its grace period for a resume. */
  streamEnded(session: SessionHandle, sink: Sink): void;
  /**
   * The session a verified token names, or undefined when it is known to have ended. A backend
   * that cannot tell without I/O returns a handle; its operations then refuse an ended session.
   */
  session(sessionId: string, userId: string): SessionHandle | undefined;
  /**
   * Starts a call (empty callId), relays an offer within one, or invites someone into it (the
   * hub's rules). Resolves to the call id.
   */
  offer(from: SessionHandle, input: OfferInput): Promise<string>;
  /** Accepts a ringing call or an invitation, answers an offer within one, or relays a ringing answer (the hub's rules). */
  answer(from: SessionHandle, input: AnswerInput): Promise<void>;
  candidates(from: SessionHandle, callId: string, candidates: IceCandidate[], endOfCandidates: boolean, toUserId?: string): Promise<void>;
  /** Declines, cancels, hangs up or leaves; resolves to the reason recorded. */
  hangUp(from: SessionHandle, callId: string, requested: EndReason): Promise<EndReason>;
  /**
   * Pushes a control message (not numbered, not replayed) to the session's stream if this node
   * holds it; false when it does not.
   */
  sendControl(session: SessionHandle, event: EventInit["event"]): boolean;
  /** Tells every local stream to reconnect (elsewhere) and ends it; sessions wait for a resume. */
  drain(reconnectAfterMs: number): void;
  /** Calls `listener` with the id of every session that ends for good. */
  onSessionClosed(listener: (sessionId: string) => void): void;
  close(): Promise<void>;
}

/** What a cluster node reports beyond the hub's events. */
export interface ClusterObserver extends HubObserver {
  /** An event reached this node `ms` after Redis published it (by Redis's clock and this node's). */
  delivered?(ms: number): void;
}

export type { Joined };
