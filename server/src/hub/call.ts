import { EndReason } from "@peertobeer/protocol";

export type CallState = "ringing" | "active" | "ended";

/** Every transition a call may take; anything else is a bug and throws. */
export const CALL_TRANSITIONS: Readonly<Record<CallState, readonly CallState[]>> = {
  ringing: ["active", "ended"],
  active: ["ended"],
  ended: [],
};

export class IllegalTransitionError extends Error {
  constructor(from: CallState, to: CallState) {
    super(`call cannot go from ${from} to ${to}`);
    this.name = "IllegalTransitionError";
  }
}

export class Call {
  private current: CallState = "ringing";
  ringTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: string,
    readonly caller: string,
    readonly callee: string,
    /** When the call's first offer came (ms), for its setup time. */
    readonly startedAt = 0,
  ) {}

  get state(): CallState {
    return this.current;
  }

  transition(to: CallState): void {
    if (!CALL_TRANSITIONS[this.current].includes(to)) {
      throw new IllegalTransitionError(this.current, to);
    }
    this.current = to;
    if (to !== "ringing") clearTimeout(this.ringTimer);
  }

  has(userId: string): boolean {
    return userId === this.caller || userId === this.callee;
  }

  peerOf(userId: string): string {
    return userId === this.caller ? this.callee : this.caller;
  }

  /** The callee is the polite peer: on renegotiation glare it yields to the caller. */
  isPolite(userId: string): boolean {
    return userId === this.callee;
  }

  /**
   * The reason recorded when `userId` ends the call, from the call's state and the user's role:
   * a client cannot claim a hang-up was a decline. Only ERROR, CONNECT_FAILED (and BUSY from a
   * ringing callee) are taken from the request.
   */
  endReasonFor(userId: string, requested: EndReason): EndReason {
    if (requested === EndReason.ERROR || requested === EndReason.CONNECT_FAILED) return requested;
    if (this.current === "active") return EndReason.HANGUP;
    if (userId === this.caller) return EndReason.CANCELED;
    return requested === EndReason.BUSY ? EndReason.BUSY : EndReason.DECLINED;
  }
}
