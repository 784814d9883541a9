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

/** Someone whose phone rings for this call: the callee of a new call, or a person added to one. */
export interface Invite {
  inviter: string;
  /** When the invitation's offer came (ms), for the call's setup time. */
  at: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A call of two or more people. A 1:1 call is its caller (the first participant) and one invite;
 * Accept makes the callee a participant and the call active. In an active call any participant
 * may invite more people, up to the call's size limit. Each pair of participants negotiates on
 * its own; the one who joined later is that pair's polite peer.
 */
export class Call {
  private current: CallState = "ringing";
  /** In the order they joined: the caller first. */
  readonly participants: string[];
  readonly invites = new Map<string, Invite>();

  constructor(
    readonly id: string,
    caller: string,
    /** When the call's first offer came (ms), for its setup time. */
    readonly startedAt = 0,
  ) {
    this.participants = [caller];
  }

  get state(): CallState {
    return this.current;
  }

  /** Who started the call. */
  get caller(): string {
    return this.participants[0] ?? "";
  }

  /** The first person called: the second participant, or the ringing callee. */
  get callee(): string {
    return this.participants[1] ?? this.invites.keys().next().value ?? "";
  }

  /** Participants and invitees: everyone the call counts against its size limit. */
  get size(): number {
    return this.participants.length + this.invites.size;
  }

  transition(to: CallState): void {
    if (!CALL_TRANSITIONS[this.current].includes(to)) {
      throw new IllegalTransitionError(this.current, to);
    }
    this.current = to;
    if (to === "ended") for (const invite of this.invites.values()) clearTimeout(invite.timer);
  }

  isParticipant(userId: string): boolean {
    return this.participants.includes(userId);
  }

  /** A participant or someone being invited. */
  has(userId: string): boolean {
    return this.isParticipant(userId) || this.invites.has(userId);
  }

  /**
   * Whether `a` and `b` may signal to each other: two participants, or an invitee and the one
   * who invited them (the invitation's own negotiation).
   */
  linked(a: string, b: string): boolean {
    if (a === b) return false;
    if (this.isParticipant(a) && this.isParticipant(b)) return true;
    return this.invites.get(a)?.inviter === b || this.invites.get(b)?.inviter === a;
  }

  /**
   * Whom `from` addresses when the request names nobody: the one person `from` is linked to, as
   * in any 1:1 call (so 1:1 clients need not say); nobody when there are several.
   */
  soleLink(from: string): string | undefined {
    const linked = [...this.participants, ...this.invites.keys()].filter((id) => this.linked(from, id));
    return linked.length === 1 ? linked[0] : undefined;
  }

  /** The later of the two joined the call later (an invitee is later than every participant). */
  isPolite(userId: string, towards: string): boolean {
    return this.rank(userId) > this.rank(towards);
  }

  /** Everyone in the call but `userId` who is a participant. */
  otherParticipants(userId: string): string[] {
    return this.participants.filter((id) => id !== userId);
  }

  /**
   * The reason recorded when `userId` leaves, from the call's state and the user's role: a client
   * cannot claim a hang-up was a decline. Only ERROR, CONNECT_FAILED (and BUSY from someone being
   * rung) are taken from the request.
   */
  endReasonFor(userId: string, requested: EndReason): EndReason {
    if (requested === EndReason.ERROR || requested === EndReason.CONNECT_FAILED) return requested;
    if (this.invites.has(userId)) return requested === EndReason.BUSY ? EndReason.BUSY : EndReason.DECLINED;
    return this.current === "active" ? EndReason.HANGUP : EndReason.CANCELED;
  }

  private rank(userId: string): number {
    const index = this.participants.indexOf(userId);
    return index === -1 ? this.participants.length : index;
  }
}
