import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { SignalingMessageSchema, type SignalingMessage } from "@peertobeer/protocol";

/** Where a session's messages go while a stream is attached. */
export interface Sink {
  push(message: SignalingMessage): void;
  /** Events missed before a resume: bounded by the session's history, not by the stream's queue. */
  replay(messages: readonly SignalingMessage[]): void;
  /** The session no longer uses this stream (a newer stream took over, or the session ended). */
  end(): void;
}

type SignalingMessageInit = MessageInitShape<typeof SignalingMessageSchema>;

/** An event before the session numbers it. */
export interface EventInit {
  fromUserId?: string;
  callId?: string;
  event: NonNullable<SignalingMessageInit["event"]>;
}

/**
 * One joined user. Events are numbered per session and kept in a history bounded in count, in
 * weight and in age (the hub calls forgetBefore), so a client whose stream broke can resume and
 * receive exactly what it missed, in order (one that missed more than that starts a fresh
 * session), and a session's past calls do not stay in memory.
 */
export interface HistoryLimit {
  events: number;
  /** What the kept events may weigh, roughly in bytes (SDPs and candidates count). */
  bytes: number;
}

function candidatesWeight(list: readonly { candidate: string }[]): number {
  let weight = 0;
  for (const c of list) weight += c.candidate.length + 32;
  return weight;
}

/** About what an event holds in memory: its SDP and candidates, plus a fixed part. */
function weightOf(message: SignalingMessage): number {
  const { event } = message;
  switch (event.case) {
    case "offer":
    case "answer":
      return 128 + event.value.sdp.length + candidatesWeight(event.value.candidates);
    case "iceCandidates":
      return 128 + candidatesWeight(event.value.candidates);
    default:
      return 128;
  }
}

interface Kept {
  message: SignalingMessage;
  weight: number;
  /** When it was sent, by the hub's clock. */
  at: number;
}

export class Session {
  private lastSeq = 0n;
  private readonly history: Kept[] = [];
  private historyWeight = 0;
  private sink: Sink | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly watchPresence: boolean,
    private readonly historyLimit: HistoryLimit,
    private readonly now: () => number,
  ) {}

  get seq(): bigint {
    return this.lastSeq;
  }

  /** Events kept for a resume. */
  get keptEvents(): number {
    return this.history.length;
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** Sends a sequenced event: numbered, remembered for replay, delivered if a stream is attached. */
  send(init: EventInit): SignalingMessage {
    this.lastSeq += 1n;
    const message = create(SignalingMessageSchema, { ...init, seq: this.lastSeq });
    const weight = weightOf(message);
    this.history.push({ message, weight, at: this.now() });
    this.historyWeight += weight;
    while (this.history.length > this.historyLimit.events || this.historyWeight > this.historyLimit.bytes) this.dropOldest();
    this.sink?.push(message);
    return message;
  }

  /** Drops the events sent before `time`: no resume can need them any more. */
  forgetBefore(time: number): void {
    while ((this.history[0]?.at ?? time) < time) this.dropOldest();
  }

  private dropOldest(): void {
    const dropped = this.history.shift();
    if (dropped) this.historyWeight -= dropped.weight;
  }

  /**
   * Sends a control message (joined on resume, heartbeat, draining): not replayed, and it
   * carries the latest sequence number so the client can tell whether it has missed anything.
   */
  control(init: EventInit): void {
    this.sink?.push(create(SignalingMessageSchema, { ...init, seq: this.lastSeq }));
  }

  /** True when every event after `afterSeq` is still in the history. */
  canReplayAfter(afterSeq: bigint): boolean {
    if (afterSeq > this.lastSeq) return false;
    const oldest = this.history[0]?.message.seq ?? this.lastSeq + 1n;
    return afterSeq + 1n >= oldest;
  }

  attach(sink: Sink): void {
    const previous = this.sink;
    this.sink = sink;
    previous?.end();
    clearTimeout(this.graceTimer);
  }

  /** Delivers the events after `afterSeq` to the attached stream (call canReplayAfter first). */
  replayAfter(afterSeq: bigint): void {
    this.sink?.replay(this.history.filter((kept) => kept.message.seq > afterSeq).map((kept) => kept.message));
  }

  /** Detaches `sink` if it is still the current one; a newer stream is left alone. */
  detach(sink: Sink): boolean {
    if (this.sink !== sink) return false;
    this.sink = undefined;
    return true;
  }

  /** Ends the attached stream (it stays attached until its transport says it closed). */
  endStream(): void {
    this.sink?.end();
  }

  /** The session is over: its stream, if any, ends. */
  end(): void {
    clearTimeout(this.graceTimer);
    const sink = this.sink;
    this.sink = undefined;
    sink?.end();
  }
}
