import { EndReason, ErrorReason } from "@peertobeer/protocol";
import { SignalingError } from "./errors.js";
import { PeerCall, type CallSignaling, type ConnectFailureCause, type ControlMessage } from "./peer-call.js";
import type { CandidateBurst, ConnectionState, SignalingClient, SignalingEvents } from "./signaling-client.js";

export type CallDirection = "outgoing" | "incoming";

/**
 * How long a call the peer reported as CONNECT_FAILED may stay up while this side's gathering
 * finishes, so the notice can name the cause (a TURN refusal arrives some 100 ms in).
 */
const CAUSE_WAIT_MS = 2_000;
/** outgoing: ringing the callee · incoming: we are being rung · connecting: media starting · connected: media flowing */
export type CallPhase = "outgoing" | "incoming" | "connecting" | "connected";

export interface CallView {
  id: string | undefined;
  peer: string;
  direction: CallDirection;
  phase: CallPhase;
  remoteStream: MediaStream | undefined;
  /** What the peer says it sends (over the data channel). */
  peerMedia: { audio: boolean; video: boolean };
  /** The peer connection's state; `disconnected` while ICE recovers from a network change. */
  media: RTCPeerConnectionState;
}

/** Why the last call ended, or why it never started; the UI turns it into words. */
export type CallOutcome =
  | {
      kind: "ended";
      peer: string;
      reason: EndReason;
      by: "me" | "peer" | "server";
      direction: CallDirection;
      connected: boolean;
      /** With CONNECT_FAILED (whoever gave up first): why this side thinks it could not connect. */
      cause?: ConnectFailureCause;
    }
  | { kind: "failed"; peer: string; error: SignalingError };

export interface PhoneSnapshot {
  connection: ConnectionState;
  userId: string;
  onlineUsers: readonly string[];
  call: CallView | undefined;
  lastOutcome: CallOutcome | undefined;
  localMedia: { audio: boolean; video: boolean };
}

export interface PhoneOptions {
  signaling: SignalingClient;
  RTCPeerConnection: typeof RTCPeerConnection;
  localStream?: MediaStream | undefined;
  /** How long a call may take to connect or reconnect; else the server's, else CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
}

interface IncomingOffer {
  sdp: string;
  burst: CandidateBurst;
}

interface ActiveCall {
  view: CallView;
  peerCall: PeerCall | undefined;
  /** Resolves with the call id once the server minted it (outgoing) or at once (incoming). */
  callId: Promise<string>;
  setCallId: (id: string) => void;
  /** Candidates of a call whose PeerCall does not exist yet (their call, after glare). */
  earlyCandidates: CandidateBurst[];
  /** Accept the incoming call as soon as it arrives (both sides called each other). */
  autoAccept: boolean;
}

/**
 * One user's phone: joins signaling to PeerCall for one call at a time and exposes an
 * immutable snapshot that any UI can subscribe to (React does via useSyncExternalStore).
 */
export class Phone {
  private readonly listeners = new Set<() => void>();
  private snapshot: PhoneSnapshot;
  private active: ActiveCall | undefined;
  private localStream: MediaStream | undefined;
  private readonly online = new Set<string>();
  private readonly unsubscribe: (() => void)[];

  constructor(private readonly options: PhoneOptions) {
    this.localStream = options.localStream;
    const s = options.signaling;
    this.snapshot = {
      connection: s.state,
      userId: s.user,
      onlineUsers: [],
      call: undefined,
      lastOutcome: undefined,
      localMedia: { audio: true, video: true },
    };
    this.unsubscribe = [
      s.on("state", () => this.update({})),
      s.on("joined", (info) => {
        // A resumed session's TURN credentials are fresh: a later ICE restart needs them.
        this.active?.peerCall?.setConfiguration(info.rtcConfiguration);
        this.online.clear();
        for (const id of info.onlineUserIds) this.online.add(id);
        this.update({});
      }),
      s.on("presence", ({ userId, online }) => {
        if (online) this.online.add(userId);
        else this.online.delete(userId);
        this.update({});
      }),
      s.on("offer", (e) => this.onOffer(e)),
      s.on("answer", (e) => {
        const call = this.callFor(e.callId, e.from);
        if (!call?.peerCall) return;
        // The UI hears of it once the answer is applied: a re-render while setRemoteDescription
        // runs held it (and so ICE and DTLS) up by some 20 ms (docs/BENCHMARKS.md, B4).
        void call.peerCall.handleDescription({ type: "answer", sdp: e.sdp }, e.burst).then(() => {
          if (this.active === call && call.view.phase === "outgoing") this.patchCall({ phase: "connecting" });
        });
      }),
      s.on("candidates", (e) => {
        const call = this.callFor(e.callId, e.from);
        if (!call) return;
        if (call.peerCall) void call.peerCall.handleCandidates(e.candidates, e.endOfCandidates);
        else call.earlyCandidates.push({ candidates: e.candidates, endOfCandidates: e.endOfCandidates });
      }),
      s.on("iceServers", (configuration) => this.active?.peerCall?.setConfiguration(configuration)),
      s.on("callEnded", (e) => {
        const call = this.callFor(e.callId, e.from);
        if (!call) return;
        const by = e.from ? "peer" : "server";
        const peerCall = call.peerCall;
        if (e.reason !== EndReason.CONNECT_FAILED || !peerCall) {
          this.finish({ reason: e.reason, by });
          return;
        }
        // The peer gave up connecting; what this side saw names the likely cause, once its own
        // gathering has heard from the TURN servers.
        void peerCall.gatheringEnded(CAUSE_WAIT_MS).then(() =>
          this.whenCurrent(call, () => this.finish({ reason: e.reason, by, cause: peerCall.failureCause() })),
        );
      }),
      s.on("sessionReset", () => {
        // The server forgot our calls. Media that already flows is peer-to-peer and goes on;
        // a call still being set up cannot finish without signaling.
        if (this.active && this.active.view.phase !== "connected") {
          this.finish({ reason: EndReason.ERROR, by: "server" });
        }
      }),
    ];
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): PhoneSnapshot => this.snapshot;

  /** Camera and microphone (or none, when the user denied them). */
  setLocalStream(stream: MediaStream | undefined): void {
    this.localStream = stream;
    const { audio, video } = this.snapshot.localMedia;
    for (const track of stream?.getTracks() ?? []) track.enabled = track.kind === "audio" ? audio : video;
    // A call that began before the camera was allowed (it may already be ringing) gets it now.
    if (stream) this.active?.peerCall?.setLocalStream(stream);
  }

  /** Rings `peer`. Failures (offline, busy…) land in `lastOutcome`. */
  call(peer: string): void {
    if (this.active) throw new Error("already in a call");
    const active = this.newCall(peer, "outgoing", undefined);
    active.peerCall = this.createPeerCall(active, false);
    active.peerCall.start();
  }

  /** Accepts the ringing incoming call: its answer, prepared while it rang, goes out. */
  accept(): void {
    const active = this.active;
    if (!active || active.view.phase !== "incoming" || !active.peerCall) return;
    active.peerCall.release();
    // A UI re-renders on every snapshot change; let the answer leave first (that render can take
    // tens of milliseconds, and the whole call waits for the answer).
    setTimeout(() => {
      if (this.active === active) this.patchCall({ phase: "connecting" });
    });
  }

  /** Declines, cancels or hangs up, whichever fits the call's phase. */
  hangUp(): void {
    const active = this.active;
    if (!active) return;
    active.peerCall?.sayBye();
    const reason =
      active.view.phase === "incoming" ? EndReason.DECLINED
      : active.view.phase === "outgoing" ? EndReason.CANCELED
      : EndReason.HANGUP;
    void active.callId.then((id) => this.options.signaling.endCall(id, reason)).catch(() => {
      // Already ended on the server (or it is unreachable, and the data channel said bye).
    });
    this.finish({ reason, by: "me" });
  }

  setMicrophoneEnabled(enabled: boolean): void {
    this.setMedia("audio", enabled);
  }

  setCameraEnabled(enabled: boolean): void {
    this.setMedia("video", enabled);
  }

  dismissOutcome(): void {
    this.update({ lastOutcome: undefined });
  }

  dispose(): void {
    if (this.active) this.hangUp();
    for (const off of this.unsubscribe) off();
    this.listeners.clear();
  }

  private setMedia(kind: "audio" | "video", enabled: boolean): void {
    for (const track of this.localStream?.getTracks() ?? []) if (track.kind === kind) track.enabled = enabled;
    this.active?.peerCall?.setMediaEnabled(kind, enabled);
    this.update({ localMedia: { ...this.snapshot.localMedia, [kind]: enabled } });
  }

  private onOffer(e: SignalingEvents["offer"]): void {
    const active = this.active;
    if (active && active.view.peer === e.from) {
      if (active.view.id === e.callId && active.peerCall) {
        void active.peerCall.handleDescription({ type: "offer", sdp: e.sdp }, e.burst);
        return;
      }
      const ourOfferPending = active.view.direction === "outgoing" && active.view.id === undefined;
      if (ourOfferPending || (active.autoAccept && active.view.id === e.callId)) {
        // We both called each other: the server kept their call; take it instead of ours.
        this.replaceWithIncoming(e.callId, { sdp: e.sdp, burst: e.burst });
        return;
      }
    }
    if (active || e.renegotiation) {
      // Busy (a race the server could not see) or a stale renegotiation: refuse it.
      void this.options.signaling.endCall(e.callId, EndReason.BUSY).catch(() => undefined);
      return;
    }
    this.ring(this.newCall(e.from, "incoming", e.callId), { sdp: e.sdp, burst: e.burst });
  }

  private replaceWithIncoming(callId: string, offer: IncomingOffer): void {
    const peer = this.active?.view.peer ?? "";
    this.active?.peerCall?.close();
    this.active = undefined;
    this.ring(this.newCall(peer, "incoming", callId), offer);
    this.accept();
  }

  /**
   * The callee's side of a ringing call: its PeerCall prepares the answer right away, held
   * until accept() (see PeerCallOptions.held).
   */
  private ring(incoming: ActiveCall, offer: IncomingOffer): void {
    const peerCall = this.createPeerCall(incoming, true, true);
    incoming.peerCall = peerCall;
    // In arrival order: the offer and its burst, then anything that trickled before.
    void peerCall.handleDescription({ type: "offer", sdp: offer.sdp }, offer.burst);
    for (const early of incoming.earlyCandidates.splice(0)) void peerCall.handleCandidates(early.candidates, early.endOfCandidates);
  }

  private newCall(peer: string, direction: CallDirection, id: string | undefined): ActiveCall {
    let setCallId: (id: string) => void = () => undefined;
    const callId = id !== undefined ? Promise.resolve(id) : new Promise<string>((resolve) => (setCallId = resolve));
    callId.catch(() => undefined);
    const active: ActiveCall = {
      view: { id, peer, direction, phase: direction, remoteStream: undefined, peerMedia: { audio: true, video: true }, media: "new" },
      peerCall: undefined,
      callId,
      setCallId: (value) => {
        if (this.active === active) this.patchCall({ id: value });
        setCallId(value);
      },
      earlyCandidates: [],
      autoAccept: false,
    };
    this.active = active;
    this.update({ call: active.view, lastOutcome: undefined });
    return active;
  }

  private createPeerCall(active: ActiveCall, polite: boolean, held = false): PeerCall {
    const signaling = this.options.signaling;
    const peer = active.view.peer;
    // A PeerCall that was replaced (glare) or closed must not signal into the call any more.
    const live = () => this.active === active && active.peerCall === peerCall;
    const callSignaling: CallSignaling = {
      sendOffer: async (sdp, burst) => {
        if (active.view.id !== undefined || active.view.direction === "incoming") {
          const callId = await active.callId;
          if (live()) await signaling.sendOffer(peer, sdp, callId, burst);
          return;
        }
        try {
          active.setCallId(await signaling.sendOffer(peer, sdp, "", burst));
        } catch (error) {
          this.offerFailed(active, SignalingError.from(error));
        }
      },
      sendAnswer: async (sdp, burst) => {
        const callId = await active.callId;
        if (live()) await signaling.sendAnswer(callId, sdp, burst);
      },
      sendCandidates: async (candidates, end) => {
        const callId = await active.callId;
        if (live()) await signaling.sendIceCandidates(callId, candidates, end);
      },
    };
    const connectTimeoutMs = this.options.connectTimeoutMs ?? signaling.connectTimeoutMs;
    const peerCall = new PeerCall({
      RTCPeerConnection: this.options.RTCPeerConnection,
      rtcConfiguration: signaling.rtcConfiguration,
      signaling: callSignaling,
      polite,
      held,
      localStream: this.localStream,
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    });
    peerCall.setMediaEnabled("audio", this.snapshot.localMedia.audio);
    peerCall.setMediaEnabled("video", this.snapshot.localMedia.video);
    peerCall.on("remoteStream", (stream) => this.whenCurrent(active, () => this.patchCall({ remoteStream: stream })));
    peerCall.on("connectionState", (state) =>
      this.whenCurrent(active, () => this.patchCall(state === "connected" ? { media: state, phase: "connected" } : { media: state })),
    );
    peerCall.on("control", (message) => this.whenCurrent(active, () => this.onControl(message)));
    peerCall.on("peerGone", () =>
      this.whenCurrent(active, () => this.finish({ reason: EndReason.PEER_GONE, by: "peer", notify: true })),
    );
    peerCall.on("connectFailed", (cause) =>
      this.whenCurrent(active, () => this.finish({ reason: EndReason.CONNECT_FAILED, by: "me", notify: true, cause })),
    );
    peerCall.on("error", () =>
      this.whenCurrent(active, () => {
        // Once media flows it is peer-to-peer: a failed renegotiation (say, the server forgot
        // the call after a restart) does not end it. ICE failure and the data channel do.
        if (active.view.phase !== "connected") this.finish({ reason: EndReason.ERROR, by: "me", notify: true });
      }),
    );
    return peerCall;
  }

  private offerFailed(active: ActiveCall, error: SignalingError): void {
    if (this.active !== active) return;
    if (error.reason === ErrorReason.CALL_GLARE && error.callId) {
      // Their call reached the server first; its offer is on our stream: accept it on arrival.
      active.peerCall?.close();
      active.peerCall = undefined;
      active.autoAccept = true;
      active.setCallId(error.callId);
      this.patchCall({ phase: "connecting" });
      return;
    }
    active.peerCall?.close();
    this.active = undefined;
    this.update({ call: undefined, lastOutcome: { kind: "failed", peer: active.view.peer, error } });
  }

  private onControl(message: ControlMessage): void {
    if (message.type === "bye") this.finish({ reason: EndReason.HANGUP, by: "peer" });
    else this.patchCall({ peerMedia: { audio: message.audio, video: message.video } });
  }

  /** Finds the active call an event belongs to (by id, or by peer while our id is pending). */
  private callFor(callId: string, from: string): ActiveCall | undefined {
    const active = this.active;
    if (!active) return undefined;
    if (active.view.id === callId) return active;
    if (active.view.id === undefined && active.view.peer === from) {
      active.setCallId(callId);
      return active;
    }
    return undefined;
  }

  private finish(end: { reason: EndReason; by: "me" | "peer" | "server"; notify?: boolean; cause?: ConnectFailureCause | undefined }): void {
    const active = this.active;
    if (!active) return;
    if (end.notify) {
      void active.callId.then((id) => this.options.signaling.endCall(id, end.reason)).catch(() => undefined);
    }
    active.peerCall?.close();
    this.active = undefined;
    this.update({
      call: undefined,
      lastOutcome: {
        kind: "ended",
        peer: active.view.peer,
        reason: end.reason,
        by: end.by,
        direction: active.view.direction,
        connected: active.view.phase === "connected",
        ...(end.cause ? { cause: end.cause } : {}),
      },
    });
  }

  private whenCurrent(active: ActiveCall, apply: () => void): void {
    if (this.active === active) apply();
  }

  private patchCall(patch: Partial<CallView>): void {
    const active = this.active;
    if (!active) return;
    active.view = { ...active.view, ...patch };
    this.update({ call: active.view });
  }

  private update(patch: Partial<PhoneSnapshot>): void {
    const s = this.options.signaling;
    this.snapshot = { ...this.snapshot, connection: s.state, userId: s.user, onlineUsers: [...this.online].sort(), ...patch };
    for (const listener of this.listeners) listener();
  }
}
