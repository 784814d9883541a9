import { turnServer, type TurnConfig } from "../auth/turn.js";
import type { IceServerInit } from "../config.js";
import type { Session } from "../hub/index.js";

/**
 * Hands every session TURN credentials of its own and fresh ones before those expire: a call
 * (or an idle session that calls later) outlives TURN_CREDENTIAL_TTL_S, and credentials the
 * TURN server no longer accepts would fail its next allocation (an ICE restart) or refresh.
 * Halfway through their life the session gets an `ice_servers_update` control message; a
 * session without a stream at that moment gets fresh ones in the `joined` of its resume.
 * One timer per session, and only when TURN is configured.
 */
export class TurnRefresher {
  private readonly timers = new Map<Session, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly turn: TurnConfig,
    /** The configured STUN/TURN servers that need no credentials of their own. */
    private readonly staticServers: IceServerInit[],
    private readonly now: () => number = Date.now,
  ) {}

  /** The ICE servers for `session`, with credentials minted now; schedules their refresh. */
  iceServersFor(session: Session): IceServerInit[] {
    const servers = [...this.staticServers, turnServer(this.turn, session.userId, this.now())];
    clearTimeout(this.timers.get(session));
    const timer = setTimeout(() => this.refresh(session), this.refreshAfterMs());
    timer.unref?.();
    this.timers.set(session, timer);
    return servers;
  }

  /** The session ended: nothing more to refresh. */
  forget(session: Session): void {
    clearTimeout(this.timers.get(session));
    this.timers.delete(session);
  }

  /** Sessions with a refresh scheduled (for tests: none may leak). */
  get scheduled(): number {
    return this.timers.size;
  }

  /**
   * Halfway through the credentials' life: early enough that a client which misses one refresh
   * (its stream between two connections) still holds valid ones until it resumes.
   */
  private refreshAfterMs(): number {
    return (this.turn.ttlSeconds * 1000) / 2;
  }

  private refresh(session: Session): void {
    session.control({ event: { case: "iceServersUpdate", value: { iceServers: this.iceServersFor(session) } } });
  }
}
