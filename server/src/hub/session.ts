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
 * One joined user. Events are numbered per session and kept in a bounded history, so a client
 * whose stream broke can resume and receive exactly what it missed, in order.
 */
export class Session {
  private lastSeq = 0n;
  private readonly history: SignalingMessage[] = [];
  private sink: Sink | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly watchPresence: boolean,
    private readonly historyLimit: number,
  ) {}

  get seq(): bigint {
    return this.lastSeq;
  }

  get attached(): boolean {
    return this.sink !== undefined;
  }

  /** Sends a sequenced event: numbered, remembered for replay, delivered if a stream is attached. */
  send(init: EventInit): SignalingMessage {
    this.lastSeq += 1n;
    const message = create(SignalingMessageSchema, { ...init, seq: this.lastSeq });
    this.history.push(message);
    if (this.history.length > this.historyLimit) this.history.shift();
    this.sink?.push(message);
    return message;
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
    const oldest = this.history[0]?.seq ?? this.lastSeq + 1n;
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
    this.sink?.replay(this.history.filter((message) => message.seq > afterSeq));
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
