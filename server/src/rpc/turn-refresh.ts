import { turnServer, type TurnConfig } from "../auth/turn.js";
import type { IceServerInit } from "../config.js";

/**
 * Hands every session TURN credentials of its own and fresh ones before those expire: a call
 * (or an idle session that calls later) outlives TURN_CREDENTIAL_TTL_S, and credentials the
 * TURN server no longer accepts would fail its next allocation (an ICE restart) or refresh.
 * Halfway through their life the session gets an `ice_servers_update` control message through
 * `send` (not numbered, not replayed); a session without a stream at that moment gets fresh ones
 * in the `joined` of its resume. One timer per session, and only when TURN is configured.
 * `S` is whatever names a session to `send`.
 */
export class TurnRefresher<S extends { id: string; userId: string }> {
  /** By session id. */
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly turn: TurnConfig,
    /** The configured STUN/TURN servers that need no credentials of their own. */
    private readonly staticServers: IceServerInit[],
    /**
     * Pushes fresh servers to the session's stream; false when this node holds no stream of it
     * (it went to another node, which refreshes it from its own `joined`, or it is between two).
     */
    private readonly send: (session: S, iceServers: IceServerInit[]) => boolean,
    private readonly now: () => number = Date.now,
  ) {}

  /** The ICE servers for `session`, with credentials minted now; schedules their refresh. */
  iceServersFor(session: S): IceServerInit[] {
    const servers = [...this.staticServers, turnServer(this.turn, session.userId, this.now())];
    clearTimeout(this.timers.get(session.id));
    const timer = setTimeout(() => this.refresh(session), this.refreshAfterMs());
    timer.unref?.();
    this.timers.set(session.id, timer);
    return servers;
  }

  /** The session ended: nothing more to refresh. */
  forget(sessionId: string): void {
    clearTimeout(this.timers.get(sessionId));
    this.timers.delete(sessionId);
  }

  /** Sends fresh credentials; a session with no stream here gets its next ones in a `joined`. */
  private refresh(session: S): void {
    if (!this.send(session, this.iceServersFor(session))) this.forget(session.id);
  }

  /**
   * Halfway through the credentials' life: early enough that a client which misses one refresh
   * (its stream between two connections) still holds valid ones until it resumes.
   */
  private refreshAfterMs(): number {
    return (this.turn.ttlSeconds * 1000) / 2;
  }
}
