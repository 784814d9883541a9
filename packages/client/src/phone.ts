import { EndReason, ErrorReason } from "@peertobeer/protocol";
import { CallStatsMonitor, type StatsSource } from "./call-stats.js";
import { ChatRoom, type ChatSendResult } from "./chat.js";
import { SignalingError } from "./errors.js";
import { CANDIDATE_TIMING, PeerCall, type CallSignaling, type ConnectFailureCause, type ControlMessage } from "./peer-call.js";
import type { CandidateBurst, ConnectionState, SignalingClient, SignalingEvents } from "./signaling-client.js";

export type CallDirection = "outgoing" | "incoming";

/**
 * How long a call the peer reported as CONNECT_FAILED may stay up while this side's gathering
 * finishes, so the notice can name the cause (a TURN refusal arrives some 100 ms in).
 */
const CAUSE_WAIT_MS = 2_000;
/** outgoing: ringing the callee · incoming: we are being rung · connecting: media starting · connected: media flowing */
export type CallPhase = "outgoing" | "incoming" | "connecting" | "connected";

/**
 * Someone else in the call, or someone we invited whose phone rings (`ringing`). Each has a
 * connection of their own (a full mesh).
 */
export interface ParticipantView {
  userId: string;
  state: "ringing" | "connecting" | "connected";
  remoteStream: MediaStream | undefined;
  /** The screen they share (its one video track), shown large; undefined while they do not. */
  screenStream: MediaStream | undefined;
  /** What they say they send (over the data channel). */
  peerMedia: { audio: boolean; video: boolean };
  /** The peer connection's state; `disconnected` while ICE recovers from a network change. */
  media: RTCPeerConnectionState;
}

export interface CallView {
  id: string | undefined;
  /** Whom we called, or who called or invited us. */
  peer: string;
  direction: CallDirection;
  phase: CallPhase;
  /** Everyone else, in the order they came: one in a 1:1 call. */
  participants: readonly ParticipantView[];
  /** On an invitation into a group call: who else is in it besides `peer`. */
  invitedWith: readonly string[];
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

/**
 * Something that happened to one person in a call that goes on: they joined or left, we lost
 * our connection to them, or an invitation we sent was refused or failed.
 */
export type ParticipantChange = { userId: string } & (
  | { kind: "joined" }
  | { kind: "left"; reason: EndReason }
  | { kind: "lost"; cause?: ConnectFailureCause }
  | { kind: "inviteFailed"; reason: EndReason }
  | { kind: "inviteRefused"; error: SignalingError }
);

/** A ParticipantChange numbered, so that a UI tells two alike apart. */
export type ParticipantEvent = ParticipantChange & { seq: number };

export interface PhoneSnapshot {
  connection: ConnectionState;
  userId: string;
  onlineUsers: readonly string[];
  call: CallView | undefined;
  lastOutcome: CallOutcome | undefined;
  /** The latest thing that happened to someone in the current call. */
  lastParticipantEvent: ParticipantEvent | undefined;
  localMedia: { audio: boolean; video: boolean };
  /** The screen we share in the current call (startScreenShare), or undefined. */
  localScreen: MediaStream | undefined;
  /** How many people a call may hold (the server's MAX_CALL_PARTICIPANTS; 2 before it says). */
  maxCallParticipants: number;
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

/** Our connection to one other person in the call. */
interface Link {
  view: ParticipantView;
  peerCall: PeerCall | undefined;
}

interface ActiveCall {
  id: string | undefined;
  peer: string;
  direction: CallDirection;
  phase: CallPhase;
  invitedWith: readonly string[];
  links: Map<string, Link>;
  /** Resolves with the call id once the server minted it (outgoing) or at once (incoming). */
  callId: Promise<string>;
  setCallId: (id: string) => void;
  /** Candidates from someone whose PeerCall does not exist yet (their call, after glare). */
  earlyCandidates: Map<string, CandidateBurst[]>;
  /** Accept the incoming call as soon as it arrives (both sides called each other). */
  autoAccept: boolean;
  /** More than two people were in it (or invited) at some point. */
  group: boolean;
}

/**
 * One user's phone: joins signaling to one PeerCall per other person in the call (1:1 or a
 * group's full mesh) and exposes an immutable snapshot that any UI can subscribe to (React does
 * via useSyncExternalStore).
 */
export class Phone {
  private readonly listeners = new Set<() => void>();
  private snapshot: PhoneSnapshot;
  private active: ActiveCall | undefined;
  private localStream: MediaStream | undefined;
  private readonly online = new Set<string>();
  private readonly unsubscribe: (() => void)[];
  private eventSeq = 0;
  /** The screen we share, and how to stop listening for its end. */
  private screen: { track: MediaStreamTrack; stream: MediaStream; off: () => void } | undefined;
  /** The current call's chat (kept for the length of the call); subscribe to it on its own. */
  readonly chat: ChatRoom;
  /**
   * Statistics of each connected participant's connection, sampled once a second (call-stats.ts):
   * a store of its own (subscribe, getSnapshot, of(userId)), so that only what shows them
   * re-renders on them.
   */
  readonly stats = new CallStatsMonitor(() => this.statsSources());

  constructor(private readonly options: PhoneOptions) {
    this.chat = new ChatRoom(() => this.snapshot.userId);
    this.localStream = options.localStream;
    const s = options.signaling;
    this.snapshot = {
      connection: s.state,
      userId: s.user,
      onlineUsers: [],
      call: undefined,
      lastOutcome: undefined,
      lastParticipantEvent: undefined,
      localMedia: { audio: true, video: true },
      localScreen: undefined,
      maxCallParticipants: s.maxCallParticipants ?? 2,
    };
    this.unsubscribe = [
      s.on("state", () => this.update({})),
      s.on("joined", (info) => {
        // A resumed session's TURN credentials are fresh: a later ICE restart needs them.
        for (const peerCall of this.peerCalls()) peerCall.setConfiguration(info.rtcConfiguration);
        this.online.clear();
        for (const id of info.onlineUserIds) this.online.add(id);
        this.update({ maxCallParticipants: info.maxCallParticipants ?? 2 });
      }),
      s.on("presence", ({ userId, online }) => {
        if (online) this.online.add(userId);
        else this.online.delete(userId);
        this.update({});
      }),
      s.on("offer", (e) => this.onOffer(e)),
      s.on("answer", (e) => {
        const call = this.callFor(e.callId, e.from);
        const link = call?.links.get(e.from);
        if (!call || !link?.peerCall) return;
        // While the callee's phone rings its answer only readies our side: still ringing here.
        if (e.ringing) {
          void link.peerCall.handleDescription({ type: "answer", sdp: e.sdp }, e.burst, { ringing: true });
          return;
        }
        // The UI hears of it once the answer is applied: a re-render while setRemoteDescription
        // runs held it (and so ICE and DTLS) up by some 20 ms (docs/BENCHMARKS.md, B4).
        void link.peerCall.handleDescription({ type: "answer", sdp: e.sdp }, e.burst).then(() => {
          if (this.active !== call || call.links.get(e.from) !== link) return;
          if (link.view.state === "ringing") this.patchLink(link, { state: "connecting" });
          if (call.phase === "outgoing") this.patchCall({ phase: "connecting" });
        });
      }),
      s.on("candidates", (e) => {
        const call = this.callFor(e.callId, e.from);
        if (!call) return;
        const peerCall = call.links.get(e.from)?.peerCall;
        const burst = { candidates: e.candidates, endOfCandidates: e.endOfCandidates };
        if (peerCall) void peerCall.handleCandidates(burst.candidates, burst.endOfCandidates);
        else call.earlyCandidates.set(e.from, [...(call.earlyCandidates.get(e.from) ?? []), burst]);
      }),
      s.on("participantJoined", (e) => {
        const call = this.active;
        if (!call || call.id !== e.callId || call.links.has(e.userId)) return;
        // Everyone already in the call offers the newcomer a connection of their own.
        const link = this.addLink(call, e.userId, "connecting", e.polite, { offerAtOnce: true });
        link.peerCall?.start();
        this.participantEvent({ userId: e.userId, kind: "joined" });
      }),
      s.on("participantLeft", (e) => {
        const call = this.active;
        if (!call || call.id !== e.callId) return;
        const link = call.links.get(e.userId);
        if (!link) {
          // We saw them go already: their goodbye on the data channel, or, for a tab that died,
          // our connection closing; the server now confirms that they are gone for good.
          if (e.reason === EndReason.PEER_GONE) this.participantEvent({ userId: e.userId, kind: "left", reason: e.reason });
          return;
        }
        this.dropLink(call, link);
        const invitation = link.view.state === "ringing";
        this.participantEvent({ userId: e.userId, kind: invitation ? "inviteFailed" : "left", reason: e.reason });
      }),
      s.on("iceServers", (configuration) => {
        for (const peerCall of this.peerCalls()) peerCall.setConfiguration(configuration);
      }),
      s.on("callEnded", (e) => {
        const call = this.callFor(e.callId, e.from);
        if (!call) return;
        const by = e.from ? "peer" : "server";
        const peerCall = call.links.get(e.from)?.peerCall;
        if (e.reason !== EndReason.CONNECT_FAILED || !peerCall) {
          this.finish({ reason: e.reason, by, peer: e.from || call.peer });
          return;
        }
        // The peer gave up connecting; what this side saw names the likely cause, once its own
        // gathering has heard from the TURN servers.
        void peerCall.gatheringEnded(CAUSE_WAIT_MS).then(() =>
          this.whenCurrent(call, () => this.finish({ reason: e.reason, by, peer: e.from, cause: peerCall.failureCause() })),
        );
      }),
      s.on("sessionReset", () => {
        // The server forgot our calls. Media that already flows is peer-to-peer and goes on;
        // a call still being set up cannot finish without signaling.
        if (this.active && this.active.phase !== "connected") {
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
    if (stream) for (const peerCall of this.peerCalls()) peerCall.setLocalStream(stream);
  }

  /**
   * Swaps the camera or microphone (by `track.kind`) for `track` mid-call: every participant's
   * sender gets it with replaceTrack (no renegotiation), the local stream holds it instead of the
   * old one (so a preview showing that stream follows), the old track is stopped, and muted or
   * camera-off stays so. Without a local stream until now, it starts one (setLocalStream).
   */
  async replaceTrack(track: MediaStreamTrack): Promise<void> {
    const kind = track.kind === "audio" ? "audio" : "video";
    track.enabled = this.snapshot.localMedia[kind];
    const stream = this.localStream;
    if (!stream) {
      this.setLocalStream(new MediaStream([track]));
      this.update({});
      return;
    }
    const previous = stream.getTracks().find((t) => t.kind === kind);
    if (previous === track) return;
    if (previous) stream.removeTrack(previous);
    stream.addTrack(track);
    await Promise.all([...this.peerCalls()].map((peerCall) => peerCall.replaceTrack(previous, track)));
    previous?.stop();
    this.update({});
  }

  /** The camera and microphone stream the calls send (replaceTrack changes its tracks). */
  getLocalStream(): MediaStream | undefined {
    return this.localStream;
  }

  /**
   * Shares a screen (a getDisplayMedia stream) with everyone in the call, by renegotiating each
   * connection; participants who join later get it too. Sharing stops with stopScreenShare(),
   * when the track ends (the browser's own "Stop sharing" bar) and when the call ends.
   */
  startScreenShare(stream: MediaStream): void {
    const track = stream.getVideoTracks()[0];
    if (!this.active || !track) {
      for (const t of stream.getTracks()) t.stop();
      throw new Error(track ? "no call to share a screen in" : "no video track to share");
    }
    this.stopScreenShare();
    // Text and lines stay sharp rather than smooth: the encoder keeps resolution over frame rate.
    if ("contentHint" in track && track.contentHint === "") track.contentHint = "detail";
    const ended = () => this.stopScreenShare();
    track.addEventListener("ended", ended);
    this.screen = { track, stream, off: () => track.removeEventListener("ended", ended) };
    for (const peerCall of this.peerCalls()) peerCall.setScreen({ track, stream });
    this.update({ localScreen: stream });
  }

  /** Stops sharing the screen: the track stops, every connection renegotiates back to the camera. */
  stopScreenShare(): void {
    const screen = this.screen;
    if (!screen) return;
    this.screen = undefined;
    screen.off();
    for (const t of screen.stream.getTracks()) t.stop();
    for (const peerCall of this.peerCalls()) peerCall.setScreen(undefined);
    this.update({ localScreen: undefined });
  }

  /** Rings `peer`. Failures (offline, busy…) land in `lastOutcome`. */
  call(peer: string): void {
    if (this.active) throw new Error("already in a call");
    const call = this.newCall(peer, "outgoing", undefined, []);
    this.addLink(call, peer, "ringing", false).peerCall?.start();
  }

  /**
   * Adds `userId` to the call in progress ("Add person"): their phone rings. A refusal (busy,
   * offline, the call is full…) or their decline lands in `lastParticipantEvent`.
   */
  invite(userId: string): void {
    const call = this.active;
    if (!call || call.id === undefined || (call.phase !== "connected" && call.phase !== "connecting")) {
      throw new Error("no call to add someone to");
    }
    if (call.links.has(userId) || userId === this.snapshot.userId) return;
    this.addLink(call, userId, "ringing", false).peerCall?.start();
  }

  /** Accepts the ringing incoming call: its answer, prepared while it rang, goes out. */
  accept(): void {
    const call = this.active;
    const peerCall = call?.links.get(call.peer)?.peerCall;
    if (!call || call.phase !== "incoming" || !peerCall) return;
    peerCall.release();
    // A UI re-renders on every snapshot change; let the answer leave first (that render can take
    // tens of milliseconds, and the whole call waits for the answer).
    setTimeout(() => {
      if (this.active === call) this.patchCall({ phase: "connecting" });
    });
  }

  /** Declines, cancels, hangs up or leaves a group call, whichever fits the call's phase. */
  hangUp(): void {
    const call = this.active;
    if (!call) return;
    for (const peerCall of this.peerCalls()) peerCall.sayBye();
    const reason =
      call.phase === "incoming" ? EndReason.DECLINED
      : call.phase === "outgoing" ? EndReason.CANCELED
      : EndReason.HANGUP;
    void call.callId.then((id) => this.options.signaling.endCall(id, reason)).catch(() => {
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

  /** Sends a chat message to everyone in the call; see ChatRoom.send for what is refused. */
  sendChat(text: string): ChatSendResult {
    return this.chat.send(text);
  }

  dismissOutcome(): void {
    this.update({ lastOutcome: undefined });
  }

  dispose(): void {
    if (this.active) this.hangUp();
    for (const off of this.unsubscribe) off();
    this.listeners.clear();
    this.stats.dispose();
  }

  private setMedia(kind: "audio" | "video", enabled: boolean): void {
    for (const track of this.localStream?.getTracks() ?? []) if (track.kind === kind) track.enabled = enabled;
    for (const peerCall of this.peerCalls()) peerCall.setMediaEnabled(kind, enabled);
    this.update({ localMedia: { ...this.snapshot.localMedia, [kind]: enabled } });
  }

  private onOffer(e: SignalingEvents["offer"]): void {
    const call = this.active;
    if (call && call.id === e.callId) {
      const link = call.links.get(e.from);
      if (link?.peerCall) {
        void link.peerCall.handleDescription({ type: "offer", sdp: e.sdp }, e.burst);
        return;
      }
      if (!link && !call.autoAccept) {
        // Someone who joined our group call: a connection of our own with them, answered at once.
        const joined = this.addLink(call, e.from, "connecting", e.polite);
        void joined.peerCall?.handleDescription({ type: "offer", sdp: e.sdp }, e.burst);
        this.flushEarly(call, e.from);
        return;
      }
    }
    if (call && call.peer === e.from) {
      const ourOfferPending = call.direction === "outgoing" && call.id === undefined;
      if (ourOfferPending || (call.autoAccept && call.id === e.callId)) {
        // We both called each other: the server kept their call; take it instead of ours.
        this.replaceWithIncoming(e.callId, e.participants, { sdp: e.sdp, burst: e.burst });
        return;
      }
    }
    if (call || e.renegotiation) {
      // Busy (a race the server could not see) or a stale renegotiation: refuse it.
      void this.options.signaling.endCall(e.callId, EndReason.BUSY).catch(() => undefined);
      return;
    }
    this.ring(this.newCall(e.from, "incoming", e.callId, e.participants), { sdp: e.sdp, burst: e.burst });
  }

  private replaceWithIncoming(callId: string, invitedWith: string[], offer: IncomingOffer): void {
    const peer = this.active?.peer ?? "";
    for (const peerCall of this.peerCalls()) peerCall.close();
    this.active = undefined;
    this.ring(this.newCall(peer, "incoming", callId, invitedWith), offer);
    this.accept();
  }

  /**
   * The callee's side of a ringing call: its PeerCall prepares the answer right away, held
   * until accept() (see PeerCallOptions.held).
   */
  private ring(incoming: ActiveCall, offer: IncomingOffer): void {
    const link = this.addLink(incoming, incoming.peer, "connecting", true, { held: true });
    // In arrival order: the offer and its burst, then anything that trickled before.
    void link.peerCall?.handleDescription({ type: "offer", sdp: offer.sdp }, offer.burst);
    this.flushEarly(incoming, incoming.peer);
  }

  private flushEarly(call: ActiveCall, userId: string): void {
    const peerCall = call.links.get(userId)?.peerCall;
    for (const early of call.earlyCandidates.get(userId) ?? []) void peerCall?.handleCandidates(early.candidates, early.endOfCandidates);
    call.earlyCandidates.delete(userId);
  }

  private newCall(peer: string, direction: CallDirection, id: string | undefined, invitedWith: readonly string[]): ActiveCall {
    let setCallId: (id: string) => void = () => undefined;
    const callId = id !== undefined ? Promise.resolve(id) : new Promise<string>((resolve) => (setCallId = resolve));
    callId.catch(() => undefined);
    const call: ActiveCall = {
      id,
      peer,
      direction,
      phase: direction,
      invitedWith,
      links: new Map(),
      callId,
      setCallId: (value) => {
        if (this.active === call) this.patchCall({ id: value });
        setCallId(value);
      },
      earlyCandidates: new Map(),
      autoAccept: false,
      group: invitedWith.length > 0,
    };
    this.active = call;
    this.update({ call: this.viewOf(call), lastOutcome: undefined, lastParticipantEvent: undefined });
    return call;
  }

  /** A connection with `userId` in `call`; every connection's video cap follows the call's size. */
  /**
   * `held`: an incoming call's answer waits for Accept. `offerAtOnce`: the first offer goes after
   * one candidate batch window rather than waiting for gathering to end, for someone who just
   * accepted and waits on it (a 1:1 callee's phone rings meanwhile, so that offer can wait).
   */
  private addLink(
    call: ActiveCall,
    userId: string,
    state: ParticipantView["state"],
    polite: boolean,
    { held = false, offerAtOnce = false }: { held?: boolean; offerAtOnce?: boolean } = {},
  ): Link {
    const link: Link = {
      view: { userId, state, remoteStream: undefined, screenStream: undefined, peerMedia: { audio: true, video: true }, media: "new" },
      peerCall: undefined,
    };
    call.links.set(userId, link);
    if (call.links.size > 1) call.group = true;
    link.peerCall = this.createPeerCall(call, link, polite, held, offerAtOnce);
    this.resized(call);
    return link;
  }

  private dropLink(call: ActiveCall, link: Link): void {
    if (call.links.get(link.view.userId) !== link) return;
    call.links.delete(link.view.userId);
    this.chat.removePeer(link.view.userId);
    link.peerCall?.close();
    this.resized(call);
  }

  private resized(call: ActiveCall): void {
    for (const { peerCall } of call.links.values()) peerCall?.setCallSize(call.links.size + 1);
    if (this.active === call) this.update({ call: this.viewOf(call) });
  }

  private createPeerCall(call: ActiveCall, link: Link, polite: boolean, held: boolean, offerAtOnce: boolean): PeerCall {
    const signaling = this.options.signaling;
    const to = link.view.userId;
    // A PeerCall that was replaced (glare) or dropped must not signal into the call any more.
    const live = () => this.active === call && call.links.get(to) === link && link.peerCall === peerCall;
    const callSignaling: CallSignaling = {
      sendOffer: async (sdp, burst) => {
        if (call.id !== undefined || call.direction === "incoming") {
          const callId = await call.callId;
          if (!live()) return;
          try {
            await signaling.sendOffer(to, sdp, callId, burst);
          } catch (error) {
            // Only an invitation's first offer can be refused for who the invitee is.
            if (link.view.state !== "ringing") throw error;
            this.inviteRefused(call, link, SignalingError.from(error));
          }
          return;
        }
        try {
          call.setCallId(await signaling.sendOffer(to, sdp, "", burst));
        } catch (error) {
          this.offerFailed(call, SignalingError.from(error));
        }
      },
      sendAnswer: async (sdp, burst, ringing) => {
        const callId = await call.callId;
        if (live()) await signaling.sendAnswer(callId, sdp, burst, to, ringing);
      },
      sendCandidates: async (candidates, end) => {
        const callId = await call.callId;
        if (live()) await signaling.sendIceCandidates(callId, candidates, end, to);
      },
    };
    const connectTimeoutMs = this.options.connectTimeoutMs ?? signaling.connectTimeoutMs;
    const peerCall = new PeerCall({
      RTCPeerConnection: this.options.RTCPeerConnection,
      rtcConfiguration: signaling.rtcConfiguration,
      signaling: callSignaling,
      polite,
      held,
      ...(offerAtOnce ? { firstOfferWaitMs: CANDIDATE_TIMING.descriptionWaitMs } : {}),
      localStream: this.localStream,
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
    });
    const current = (apply: () => void) => {
      if (live()) apply();
    };
    peerCall.setMediaEnabled("audio", this.snapshot.localMedia.audio);
    peerCall.setMediaEnabled("video", this.snapshot.localMedia.video);
    if (this.screen) peerCall.setScreen({ track: this.screen.track, stream: this.screen.stream });
    peerCall.on("remoteScreen", (stream) => current(() => this.patchLink(link, { screenStream: stream })));
    peerCall.on("remoteStream", (stream) => current(() => this.patchLink(link, { remoteStream: stream })));
    peerCall.on("connectionState", (state) =>
      current(() => {
        this.patchLink(link, state === "connected" ? { media: state, state: "connected" } : { media: state });
        if (state === "connected" && call.phase !== "connected") this.patchCall({ phase: "connected" });
      }),
    );
    peerCall.on("control", (message) => current(() => this.onControl(call, link, message)));
    this.chat.addPeer(to, { send: (wire) => peerCall.sendChat(wire) });
    peerCall.on("chatOpen", () => current(() => this.chat.opened(to)));
    peerCall.on("chat", (wire) => current(() => this.chat.receive(to, wire)));
    peerCall.on("peerGone", () => current(() => this.lost(call, link, { reason: EndReason.PEER_GONE, by: "peer" })));
    peerCall.on("connectFailed", (cause) => current(() => this.lost(call, link, { reason: EndReason.CONNECT_FAILED, by: "me", cause })));
    peerCall.on("error", () =>
      current(() => {
        // Once media flows it is peer-to-peer: a failed renegotiation (say, the server forgot
        // the call after a restart) does not end it. ICE failure and the data channel do.
        if (link.view.state !== "connected") this.lost(call, link, { reason: EndReason.ERROR, by: "me" });
      }),
    );
    return peerCall;
  }

  /**
   * Our connection with one person failed or they said goodbye. The last one ends the call for
   * us, and we leave it on the server too, unless it was a 1:1 call they hung up (their EndCall
   * ends it, and the server then knows who hung up): a group call may still hold people whose
   * connection to us failed, and must not count us in. Otherwise only that connection goes, and
   * the server tells everyone once that person has really left.
   */
  private lost(call: ActiveCall, link: Link, end: { reason: EndReason; by: "me" | "peer"; cause?: ConnectFailureCause }): void {
    if (call.links.size <= 1) {
      const theyHungUp = end.reason === EndReason.HANGUP && end.by === "peer";
      this.finish({ ...end, peer: link.view.userId, notify: !theyHungUp || call.group });
      return;
    }
    this.dropLink(call, link);
    const userId = link.view.userId;
    if (end.reason === EndReason.HANGUP) this.participantEvent({ userId, kind: "left", reason: EndReason.HANGUP });
    else this.participantEvent({ userId, kind: "lost", ...(end.cause ? { cause: end.cause } : {}) });
  }

  private offerFailed(call: ActiveCall, error: SignalingError): void {
    if (this.active !== call) return;
    if (error.reason === ErrorReason.CALL_GLARE && error.callId) {
      // Their call reached the server first; its offer is on our stream: accept it on arrival.
      for (const peerCall of this.peerCalls()) peerCall.close();
      call.links.clear();
      call.autoAccept = true;
      call.setCallId(error.callId);
      this.patchCall({ phase: "connecting" });
      return;
    }
    for (const peerCall of this.peerCalls()) peerCall.close();
    this.active = undefined;
    this.chat.reset();
    this.update({ call: undefined, lastOutcome: { kind: "failed", peer: call.peer, error } });
  }

  private inviteRefused(call: ActiveCall, link: Link, error: SignalingError): void {
    if (this.active !== call || call.links.get(link.view.userId) !== link) return;
    this.dropLink(call, link);
    this.participantEvent({ userId: link.view.userId, kind: "inviteRefused", error });
  }

  private onControl(call: ActiveCall, link: Link, message: ControlMessage): void {
    if (message.type === "bye") this.lost(call, link, { reason: EndReason.HANGUP, by: "peer" });
    else this.patchLink(link, { peerMedia: { audio: message.audio, video: message.video } });
  }

  /** Finds the active call an event belongs to (by id, or by peer while our id is pending). */
  private callFor(callId: string, from: string): ActiveCall | undefined {
    const call = this.active;
    if (!call) return undefined;
    if (call.id === callId) return call;
    if (call.id === undefined && call.peer === from) {
      call.setCallId(callId);
      return call;
    }
    return undefined;
  }

  private finish(end: {
    reason: EndReason;
    by: "me" | "peer" | "server";
    peer?: string;
    notify?: boolean;
    cause?: ConnectFailureCause | undefined;
  }): void {
    const call = this.active;
    if (!call) return;
    if (end.notify) {
      void call.callId.then((id) => this.options.signaling.endCall(id, end.reason)).catch(() => undefined);
    }
    for (const peerCall of this.peerCalls()) peerCall.close();
    this.active = undefined;
    this.stopScreenShare();
    this.chat.reset();
    this.update({
      call: undefined,
      lastParticipantEvent: undefined,
      lastOutcome: {
        kind: "ended",
        peer: end.peer ?? call.peer,
        reason: end.reason,
        by: end.by,
        direction: call.direction,
        connected: call.phase === "connected",
        ...(end.cause ? { cause: end.cause } : {}),
      },
    });
  }

  /** The connections worth sampling: those with people whose media has connected. */
  private statsSources(): StatsSource[] {
    return [...(this.active?.links.values() ?? [])].flatMap(({ view, peerCall }) =>
      peerCall && view.state === "connected" ? [{ userId: view.userId, pc: peerCall.pc, videoExpected: view.peerMedia.video }] : [],
    );
  }

  private *peerCalls(): Generator<PeerCall> {
    for (const { peerCall } of this.active?.links.values() ?? []) if (peerCall) yield peerCall;
  }

  private whenCurrent(call: ActiveCall, apply: () => void): void {
    if (this.active === call) apply();
  }

  private participantEvent(change: ParticipantChange): void {
    this.eventSeq += 1;
    this.update({ lastParticipantEvent: { ...change, seq: this.eventSeq } });
  }

  private viewOf(call: ActiveCall): CallView {
    return {
      id: call.id,
      peer: call.peer,
      direction: call.direction,
      phase: call.phase,
      participants: [...call.links.values()].map((link) => link.view),
      invitedWith: call.invitedWith,
    };
  }

  private patchCall(patch: Partial<Pick<ActiveCall, "id" | "phase">>): void {
    const call = this.active;
    if (!call) return;
    Object.assign(call, patch);
    this.update({ call: this.viewOf(call) });
  }

  private patchLink(link: Link, patch: Partial<ParticipantView>): void {
    link.view = { ...link.view, ...patch };
    if (this.active) this.update({ call: this.viewOf(this.active) });
  }

  private update(patch: Partial<PhoneSnapshot>): void {
    const s = this.options.signaling;
    this.snapshot = { ...this.snapshot, connection: s.state, userId: s.user, onlineUsers: [...this.online].sort(), ...patch };
    this.stats.sync();
    for (const listener of this.listeners) listener();
  }
}
