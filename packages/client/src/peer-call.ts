import { preferredCodecs } from "./codecs.js";
import { FIRST_FRAMES, limitVideoHeight, meshVideoLimit } from "./first-frames.js";
import { Emitter } from "./emitter.js";
import type { ChatWire } from "./chat.js";
import type { CandidateBurst } from "./signaling-client.js";

/**
 * When candidates go out. A call's first offer waits for the end of gathering and the callee's
 * answer is prepared while it rings, so that usually both carry every candidate and the end of
 * candidates, and a call needs no SendIceCandidate:
 * - a call's first offer up to `firstOfferWaitMs`: nobody waits on it but the callee's ring, and
 *   Chromium's gathering ends only after its TCP candidates, some 130–250 ms in on a LAN;
 * - any other offer or answer (an ICE restart mid-call, a renegotiation) only `descriptionWaitMs`,
 *   one batch window, since media waits on it: later candidates trickle;
 * - a held answer (the callee ringing) goes on Accept with whatever was gathered by then.
 * Candidates after the description go out in `batchMs` windows.
 */
export const CANDIDATE_TIMING = { firstOfferWaitMs: 500, descriptionWaitMs: 20, batchMs: 20 } as const;

/**
 * How long a call may try to connect before it ends as CONNECT_FAILED: counted from Accept (the
 * callee's release(), the caller's taking the answer that accepts), and again whenever a connected call
 * loses its connection (ICE restarts included). Chromium's full browser connects a LAN or
 * relayed call within about a second of Accept; 15 s leaves room for slow TURN over TCP/TLS and
 * for lost checks, and is about as long as a person waits on "Connecting…". A side whose first
 * gathering ends without one candidate fails at once instead: no check can ever start.
 */
export const CONNECT_TIMEOUT_MS = 15_000;

/**
 * Why a call could not connect, as far as this side can tell:
 * - `relay-refused`: the TURN server refused our credentials (401 Unauthorized), e.g. a TURN_SECRET that is
 *   not the TURN server's, or credentials that expired;
 * - `relay-unreachable`: no TURN server answered (blocked port, wrong address, TLS refused);
 * - `no-candidates`: gathering found no address to use and no TURN server said why (say,
 *   relay-only with no TURN server configured);
 * - `no-path`: both had addresses, but no pair of them got through in time.
 */
export type ConnectFailureCause = "relay-refused" | "relay-unreachable" | "no-candidates" | "no-path";

/** `sdp` without its candidate lines: what a ringing answer may tell (AnswerRequest.ringing). */
function withoutCandidates(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates")
    .join("\r\n");
}

/** How a PeerCall reaches the other side; the owner knows the call id and the peer. */
export interface CallSignaling {
  /** An offer with the candidates gathered while it waited (CANDIDATE_TIMING). */
  sendOffer(sdp: string, burst: CandidateBurst): Promise<void>;
  /** `ringing`: a copy sent while the phone rings, no candidates in or beside it (PeerCallOptions.held). */
  sendAnswer(sdp: string, burst: CandidateBurst, ringing?: boolean): Promise<void>;
  sendCandidates(candidates: RTCIceCandidateInit[], endOfCandidates: boolean): Promise<void>;
}

/** What the peers tell each other over the data channel. */
export type ControlMessage =
  /**
   * `screen`: the mid of the transceiver our shared screen goes out on (null: not sharing). A
   * peer that does not know the field sees no screen, only the camera.
   */
  | { type: "media"; audio: boolean; video: boolean; screen?: string | null }
  | { type: "bye" };

export interface PeerCallEvents extends Record<string, unknown> {
  /**
   * The peer's audio and video: one stream per call, given as soon as the receivers exist
   * (its tracks are silent until media flows) and again whenever it gains a track.
   */
  remoteStream: MediaStream;
  /** The screen the peer shares (a stream of its one video track), or undefined when they stop. */
  remoteScreen: MediaStream | undefined;
  connectionState: RTCPeerConnectionState;
  control: ControlMessage;
  /** The data channel closed without a goodbye: the other side is gone. */
  peerGone: undefined;
  /**
   * The call cannot connect (or reconnect): gathering ended without a usable candidate, or the
   * connection did not come up within the connect timeout.
   */
  connectFailed: ConnectFailureCause;
  /** A signaling step failed; the call cannot go on. */
  error: Error;
  /** The chat channel opened (again): ChatRoom re-sends what the peer has not acknowledged. */
  chatOpen: undefined;
  /** Something the peer sent on the chat channel (parsed JSON; ChatRoom checks its shape). */
  chat: unknown;
}

export interface PeerCallOptions {
  RTCPeerConnection: typeof RTCPeerConnection;
  /** ICE servers and transport policy; bundling is always max-bundle. */
  rtcConfiguration: RTCConfiguration;
  signaling: CallSignaling;
  /** The polite peer yields when both sides offer at once (perfect negotiation). */
  polite: boolean;
  /** Camera and microphone; without it the call still receives the peer's media. */
  localStream?: MediaStream | undefined;
  /** Candidates gathered within this window go out in one RPC (CANDIDATE_TIMING.batchMs). */
  candidateBatchMs?: number;
  /** How long a call's first offer may wait for the end of gathering (CANDIDATE_TIMING.firstOfferWaitMs). */
  firstOfferWaitMs?: number;
  /**
   * How long any other offer or answer may wait for the end of gathering, carrying the
   * candidates gathered meanwhile (CANDIDATE_TIMING.descriptionWaitMs).
   */
  descriptionWaitMs?: number;
  /** How long `disconnected` may last before the impolite side restarts ICE. */
  disconnectedRestartMs?: number;
  /** How long connecting (or reconnecting) may take before the call fails (CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /**
   * Callee while it rings: prepare the answer (and gather candidates) at once, and send the
   * caller a ringing copy of it without any candidate, but use none of the caller's candidates
   * and send none of ours until release(). The caller applies that copy, so its encoder is
   * ready before Accept (setting one up takes Chromium 35–130 ms, docs/BENCHMARKS.md, B4), and
   * Accept leaves only ICE and DTLS; declining leaves the caller knowing no address of ours.
   */
  held?: boolean;
}

/**
 * One RTCPeerConnection and the W3C perfect-negotiation dance around it: offers and answers go
 * out when gathering ends (or after CANDIDATE_TIMING's wait) with the candidates gathered so
 * far; later candidates trickle both ways in batches, and
 * remote descriptions and candidates are applied strictly in the order they arrived, so a
 * candidate never meets the wrong description.
 */
export class PeerCall extends Emitter<PeerCallEvents> {
  readonly pc: RTCPeerConnection;
  private readonly channel: RTCDataChannel;
  /** Chat on a channel of its own, so a burst of messages never holds up "media" or "bye". */
  private readonly chatChannel: RTCDataChannel;
  private makingOffer = false;
  private ignoreOffer = false;
  private localMediaAttached = false;
  /** Remote descriptions and candidates, applied one after another in arrival order. */
  private remoteWork: Promise<void> = Promise.resolve();
  /** Remote candidates that came before any remote description (held, never dropped). */
  private readonly earlyRemote: RTCIceCandidateInit[] = [];
  /** Our offer or answer, waiting for the rest of its candidate burst. */
  private outgoingDescription: RTCSessionDescriptionInit | undefined;
  /** How long that description may wait for the end of gathering. */
  private outgoingWaitMs = 0;
  private outgoing: RTCIceCandidateInit[] = [];
  private outgoingEnd = false;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  /** Runs while the connection is being set up or recovered (CONNECT_TIMEOUT_MS). */
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  /** Local candidates of the current gathering, and what TURN servers said while gathering. */
  private gathered = 0;
  /** Called when the current gathering ends (or the call closes). */
  private gatheringWaiters: (() => void)[] = [];
  private relayRefused = false;
  private relayUnreachable = false;
  private fullSizeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Until the first connection, video goes out small (FIRST_FRAMES). */
  private everConnected = false;
  /** People in the call, this side included (setCallSize). */
  private callSize = 2;
  private remote: MediaStream | undefined;
  private localMedia = { audio: true, video: true };
  private closed = false;
  private held: boolean;
  /** A renegotiation wanted before Accept (held, or our offer answered by a ringing phone only): it waits for Accept. */
  private negotiateOnRelease = false;
  /** Caller: the callee's ringing answer is applied and the answer that accepts it not yet come. */
  private ringingAnswerApplied = false;
  private localStream: MediaStream | undefined;
  /** The screen we share: its track and stream, and the transceiver it goes out on (kept for the next share). */
  private screen: { track: MediaStreamTrack; stream: MediaStream } | undefined;
  private screenTransceiver: RTCRtpTransceiver | undefined;
  /** The screen mid we last told the peer about. */
  private announcedScreen: string | null = null;
  /** The mid the peer says its screen goes out on, and the stream we show it in. */
  private remoteScreenMid: string | null = null;
  private remoteScreen: MediaStream | undefined;

  constructor(private readonly options: PeerCallOptions) {
    super();
    this.held = options.held ?? false;
    this.localStream = options.localStream;
    this.pc = new options.RTCPeerConnection({ ...options.rtcConfiguration, bundlePolicy: "max-bundle" });
    // Negotiated on both sides with a fixed id: no extra offer/answer round for the channel.
    this.channel = this.pc.createDataChannel("control", { negotiated: true, id: 0 });
    this.channel.onopen = () => this.sendMediaState();
    this.channel.onmessage = (event: MessageEvent) => this.receiveControl(event.data);
    // SCTP closes the channel only on a real shutdown (tab closed, peer left), not on a blip.
    this.channel.onclose = () => {
      if (!this.closed) this.emit("peerGone", undefined);
    };
    this.chatChannel = this.pc.createDataChannel("chat", { negotiated: true, id: 1 });
    this.chatChannel.onopen = () => this.emit("chatOpen", undefined);
    this.chatChannel.onmessage = (event: MessageEvent) => this.receiveChat(event.data);
    this.pc.onnegotiationneeded = () => void this.negotiate();
    this.pc.onicecandidate = ({ candidate }) => this.queueCandidate(candidate);
    this.pc.onicegatheringstatechange = () => this.gatheringChanged();
    this.pc.onicecandidateerror = (event) => this.candidateError(event);
    this.pc.ontrack = (event) => this.addRemoteTracks([event.track]);
    this.pc.onconnectionstatechange = () => this.connectionChanged();
    // A screen transceiver gets its mid once an offer or answer is set: tell the peer then.
    this.pc.onsignalingstatechange = () => {
      if (this.pc.signalingState === "stable" && this.screenMid() !== this.announcedScreen) this.sendMediaState();
    };
  }

  /** Caller side: attach local media now, which triggers the first offer. */
  start(): void {
    this.attachLocalMedia();
  }

  /** The callee accepted: the prepared answer goes out with every candidate gathered so far. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    this.armConnectTimeout();
    void this.afterRemoteWork(() => this.addRemoteCandidates({ candidates: [], endOfCandidates: false }));
    this.flushOutgoing();
    if (this.negotiateOnRelease) {
      this.negotiateOnRelease = false;
      void this.negotiate();
    }
  }

  /**
   * Camera and microphone that came after the call began (a permission granted late): idle
   * senders take the tracks and the call renegotiates, so the peer starts seeing and hearing.
   */
  setLocalStream(stream: MediaStream): void {
    if (this.closed || stream === this.localStream) return;
    this.localStream = stream;
    if (!this.localMediaAttached) return; // attachLocalMedia() will use it
    for (const track of stream.getTracks()) {
      track.enabled = track.kind === "audio" ? this.localMedia.audio : this.localMedia.video;
      const idle = this.pc
        .getTransceivers()
        .find((t) => t.receiver.track.kind === track.kind && !t.sender.track && t.direction !== "stopped" && t !== this.screenTransceiver);
      if (!idle) {
        this.pc.addTrack(track, stream);
        continue;
      }
      void idle.sender.replaceTrack(track);
      idle.sender.setStreams(stream);
      idle.direction = "sendrecv"; // fires negotiationneeded
    }
  }

  /**
   * Swaps the camera or microphone for another (`track`) on the sender that sends `previous`:
   * no renegotiation, the peer's decoder just sees other frames. Without such a sender (no
   * camera until now) it goes out like a late permission: an idle sender takes it.
   */
  async replaceTrack(previous: MediaStreamTrack | undefined, track: MediaStreamTrack): Promise<void> {
    if (this.closed) return;
    track.enabled = track.kind === "audio" ? this.localMedia.audio : this.localMedia.video;
    const sender = previous && this.pc.getSenders().find((s) => s.track === previous);
    if (!sender) {
      if (!this.localMediaAttached || !this.localStream) return; // attachLocalMedia() will use it
      const idle = this.pc
        .getTransceivers()
        .find((t) => t.receiver.track.kind === track.kind && !t.sender.track && t.direction !== "stopped" && t !== this.screenTransceiver);
      if (!idle) return;
      await idle.sender.replaceTrack(track);
      idle.sender.setStreams(this.localStream);
      idle.direction = "sendrecv"; // fires negotiationneeded
      return;
    }
    await sender.replaceTrack(track);
    // Another camera may have another size: the sender's cap is worked out again.
    if (track.kind === "video" && this.everConnected && this.fullSizeTimer === undefined) this.applyFullSize();
  }

  /**
   * Shares a screen (`track` from getDisplayMedia) as one more video track, or stops sharing
   * (undefined). Either renegotiates the call; the peer learns which track is the screen over
   * the data channel (ControlMessage `screen`). Stopping keeps the transceiver, idle, for the
   * next share, so a call does not grow an m-line per share.
   */
  setScreen(share: { track: MediaStreamTrack; stream: MediaStream } | undefined): void {
    if (this.closed || share?.track === this.screen?.track) return;
    this.screen = share;
    if (!this.localMediaAttached) return; // attachLocalMedia() adds it after the camera
    this.attachScreen();
  }

  /**
   * Applies a remote offer or answer (answering offers), then the candidates that came with it;
   * glare is resolved by politeness.
   */
  handleDescription(description: RTCSessionDescriptionInit, burst?: CandidateBurst, { ringing = false } = {}): Promise<void> {
    return this.afterRemoteWork(async () => {
      if (description.type === "answer" && (ringing || this.ringingAnswerApplied)) {
        await this.handleRingingAnswer(description, burst, ringing);
        return;
      }
      const offerCollision =
        description.type === "offer" && (this.makingOffer || this.pc.signalingState !== "stable");
      this.ignoreOffer = !this.options.polite && offerCollision;
      if (this.ignoreOffer) return;
      // The polite side yields: its own offer, if still waiting for its burst, is rolled back.
      if (offerCollision) this.outgoingDescription = undefined;
      await this.pc.setRemoteDescription(description); // a polite peer rolls back implicitly
      this.updateRemoteScreen(); // the screen's mid may be known only from here
      if (description.type === "offer") {
        // Callee: attach media to the transceivers the offer created, so the answer sends it.
        this.attachLocalMedia();
        this.preferCodecs();
        const created = await this.pc.createAnswer();
        // Ringing: the caller gets it before setLocalDescription, which takes Chromium tens of
        // milliseconds; what setLocalDescription sets is this very answer.
        if (this.held && created.sdp) this.sendRingingAnswer(created.sdp);
        await this.pc.setLocalDescription(created);
        this.startSmall();
        const answer = this.pc.localDescription;
        if (answer) this.queueDescription({ type: "answer", sdp: answer.sdp });
      }
      // The caller's attempt starts when the callee's answer (its Accept) is applied.
      if (description.type === "answer" && !this.everConnected) this.armConnectTimeout();
      // After the answer is on its way: candidates need not hold it up.
      await this.addRemoteCandidates(burst ?? { candidates: [], endOfCandidates: false });
    });
  }

  /**
   * Caller: the callee's answer while its phone rings is applied at once, so our encoder is
   * ready by Accept; nothing else starts (no candidate of theirs yet). The answer that accepts
   * repeats it with the candidates: only those and the connection's clock are left to do
   * (neither side renegotiates before Accept, so it answers the same offer). A ringing answer
   * out of turn is dropped: the accepting one carries everything.
   */
  private async handleRingingAnswer(answer: RTCSessionDescriptionInit, burst: CandidateBurst | undefined, ringing: boolean): Promise<void> {
    if (ringing) {
      if (this.pc.signalingState !== "have-local-offer") return;
      await this.pc.setRemoteDescription(answer);
      this.ringingAnswerApplied = true;
      return;
    }
    this.ringingAnswerApplied = false;
    if (this.pc.signalingState !== "stable") await this.pc.setRemoteDescription(answer);
    this.updateRemoteScreen();
    if (!this.everConnected) this.armConnectTimeout();
    await this.addRemoteCandidates(burst ?? { candidates: [], endOfCandidates: false });
    if (this.negotiateOnRelease) {
      this.negotiateOnRelease = false;
      void this.negotiate();
    }
  }

  /**
   * Callee while held: the caller gets our answer now, stripped of any candidate line (the
   * server refuses an address in a ringing answer). Only a head start: if it fails, the
   * answer that goes on Accept carries everything.
   */
  private sendRingingAnswer(sdp: string): void {
    this.options.signaling.sendAnswer(withoutCandidates(sdp), { candidates: [], endOfCandidates: false }, true).catch(() => undefined);
  }

  /** Adds remote candidates once the descriptions that arrived before them are applied. */
  handleCandidates(candidates: RTCIceCandidateInit[], endOfCandidates: boolean): Promise<void> {
    return this.afterRemoteWork(() => this.addRemoteCandidates({ candidates, endOfCandidates }));
  }

  /** Enables or disables the local track of `kind` and tells the peer. */
  setMediaEnabled(kind: "audio" | "video", enabled: boolean): void {
    this.localMedia = { ...this.localMedia, [kind]: enabled };
    for (const track of this.localStream?.getTracks() ?? []) {
      if (track.kind === kind) track.enabled = enabled;
    }
    this.sendMediaState();
  }

  /** Tells the peer we are leaving, over the data channel (works while signaling is down). */
  sayBye(): void {
    this.sendControl({ type: "bye" });
  }

  restartIce(): void {
    if (!this.closed) this.pc.restartIce();
  }

  /**
   * New ICE servers (fresh TURN credentials) for the gathering of any later ICE restart; the
   * candidates in use, and so the media, stay as they are. Chromium makes the next offer after
   * a change of servers an ICE restart (checked: a new ufrag), so a later renegotiation gathers
   * with the fresh credentials too.
   */
  setConfiguration(configuration: RTCConfiguration): void {
    if (this.closed) return;
    try {
      this.pc.setConfiguration({ ...configuration, bundlePolicy: "max-bundle" });
    } catch {
      // A browser that refuses the change keeps the old servers: only a later restart may suffer.
    }
  }

  /**
   * Why this side thinks the call could not connect: what the TURN servers said while gathering,
   * else whether gathering found anything at all.
   */
  failureCause(): ConnectFailureCause {
    if (this.relayRefused) return "relay-refused";
    if (this.relayUnreachable) return "relay-unreachable";
    if (this.gathered === 0 && this.pc.iceGatheringState === "complete") return "no-candidates";
    return "no-path";
  }

  /**
   * Resolves once gathering has ended (so failureCause() has heard from every TURN server), or
   * after `maxMs`. For the side that learns from its peer that the call could not connect while
   * its own gathering still runs: a TURN server's refusal takes some 100 ms to arrive.
   */
  gatheringEnded(maxMs: number): Promise<void> {
    if (this.closed || this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      this.gatheringWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.restartTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.fullSizeTimer);
    this.gatheringEndedNow();
    this.channel.close();
    this.chatChannel.close();
    this.pc.close();
  }

  private attachLocalMedia(): void {
    if (this.localMediaAttached) return;
    this.localMediaAttached = true;
    const stream = this.localStream;
    const kinds = new Set(stream?.getTracks().map((t) => t.kind));
    for (const track of stream?.getTracks() ?? []) this.pc.addTrack(track, stream as MediaStream);
    // Without a camera or microphone we still want to see and hear the other side.
    const transceivers = this.pc.getTransceivers();
    for (const kind of ["audio", "video"] as const) {
      if (kinds.has(kind)) continue;
      const existing = transceivers.find((t) => t.receiver.track.kind === kind);
      if (existing) existing.direction = "recvonly";
      else this.pc.addTransceiver(kind, { direction: "recvonly" });
    }
    if (this.screen) this.attachScreen();
    // The receivers exist from here on: a UI can bind their (still silent) tracks while it
    // rings, rather than set up its player only when the answer arrives.
    this.addRemoteTracks(this.pc.getReceivers().map((receiver) => receiver.track));
  }

  /** Puts `this.screen` on its transceiver (a new one the first time), or takes it off. */
  private attachScreen(): void {
    const share = this.screen;
    const transceiver = this.screenTransceiver;
    if (share && !transceiver) {
      // Its own m-line, always after the camera's: addTrack could reuse the camera's idle one.
      this.screenTransceiver = this.pc.addTransceiver(share.track, { direction: "sendrecv", streams: [share.stream] });
    } else if (transceiver) {
      void transceiver.sender.replaceTrack(share?.track ?? null).catch(() => undefined);
      if (share) transceiver.sender.setStreams(share.stream);
      // The direction change fires negotiationneeded; the receivers see the track go quiet or wake.
      transceiver.direction = share ? "sendrecv" : "recvonly";
    }
    this.sendMediaState(); // at once when stopping; the mid follows once negotiated
    if (share && this.everConnected) this.applyFullSize();
  }

  /** The mid our screen goes out on, once negotiated; null while not sharing. */
  private screenMid(): string | null {
    return (this.screen && this.screenTransceiver?.mid) ?? null;
  }

  private sendMediaState(): void {
    if (this.channel.readyState !== "open") return;
    this.announcedScreen = this.screenMid();
    this.sendControl({ type: "media", ...this.localMedia, screen: this.announcedScreen });
  }

  private async negotiate(): Promise<void> {
    // Held, or our offer answered only by a ringing phone: the callee's side cannot take
    // another offer before Accept.
    if (this.held || this.ringingAnswerApplied) {
      this.negotiateOnRelease = true;
      return;
    }
    try {
      this.makingOffer = true;
      this.preferCodecs();
      const offer = await this.pc.createOffer();
      if (this.pc.signalingState !== "stable") return; // a remote offer arrived meanwhile
      await this.pc.setLocalDescription(offer);
      this.startSmall();
      const local = this.pc.localDescription;
      if (local) this.queueDescription({ type: "offer", sdp: local.sdp });
    } catch (error) {
      this.fail(error);
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * Trims each transceiver's codecs to preferredCodecs() before an offer or answer: a smaller
   * SDP on every description, nothing a call between current browsers would pick lost.
   */
  private preferCodecs(): void {
    if (typeof RTCRtpReceiver === "undefined" || typeof RTCRtpReceiver.getCapabilities !== "function") return;
    for (const transceiver of this.pc.getTransceivers()) {
      if (transceiver.direction === "stopped" || typeof transceiver.setCodecPreferences !== "function") continue;
      const codecs = RTCRtpReceiver.getCapabilities(transceiver.receiver.track.kind)?.codecs;
      const preferred = codecs && preferredCodecs(codecs);
      try {
        if (preferred?.length) transceiver.setCodecPreferences(preferred);
      } catch {
        // A browser that refuses the list negotiates its own: a larger SDP, never a failed call.
      }
    }
  }

  /**
   * Our offer or answer waits for the end of gathering (CANDIDATE_TIMING) and takes the
   * candidates gathered by then; one already gathered goes at once.
   */
  private queueDescription(description: RTCSessionDescriptionInit): void {
    if (this.outgoingDescription) this.flushOutgoing(); // never overtake one still waiting
    this.outgoingDescription = description;
    const firstOffer = description.type === "offer" && !this.pc.currentRemoteDescription;
    this.outgoingWaitMs = firstOffer
      ? (this.options.firstOfferWaitMs ?? CANDIDATE_TIMING.firstOfferWaitMs)
      : (this.options.descriptionWaitMs ?? CANDIDATE_TIMING.descriptionWaitMs);
    // Renegotiation without an ICE restart gathers nothing new: no end of gathering to wait for.
    if (this.pc.iceGatheringState === "complete") {
      this.flushOutgoing();
      return;
    }
    clearTimeout(this.flushTimer); // candidates already waiting ride with the description
    this.flushTimer = undefined;
    this.armFlush();
  }

  private queueCandidate(candidate: RTCIceCandidate | null): void {
    if (candidate === null || candidate.candidate === "") this.outgoingEnd = true;
    else {
      this.outgoing.push(candidate.toJSON());
      this.gathered += 1;
    }
    if (!this.outgoingEnd) {
      this.armFlush();
      return;
    }
    this.flushOutgoing();
    this.gatheringEndedNow();
    if (this.gathered === 0 && !this.closed && !this.everConnected) {
      // Not one address to offer the peer: no check can ever succeed, so say so now rather than
      // after the timeout (relay-only with TURN refusing us is the usual way here). The caller's
      // offer has gone first, so the callee hears that someone tried and why it failed. Not so
      // for an ICE restart mid-call: the polite side that rolls its own restart back for the
      // peer's gathers for its answer again, and Chromium may end that gathering without one
      // new candidate, having given them all to the offer it rolled back; the connect timeout,
      // armed when the connection dropped, judges a restart.
      this.emit("connectFailed", this.failureCause());
    }
  }

  private armFlush(): void {
    if (this.held) return; // release() flushes
    const waitMs = this.outgoingDescription ? this.outgoingWaitMs : (this.options.candidateBatchMs ?? CANDIDATE_TIMING.batchMs);
    this.flushTimer ??= setTimeout(() => this.flushOutgoing(), waitMs);
  }

  private flushOutgoing(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.held) return;
    const description = this.outgoingDescription;
    if (this.closed || (description === undefined && this.outgoing.length === 0 && !this.outgoingEnd)) return;
    const burst: CandidateBurst = { candidates: this.outgoing, endOfCandidates: this.outgoingEnd };
    this.outgoingDescription = undefined;
    this.outgoing = [];
    this.outgoingEnd = false;
    const signaling = this.options.signaling;
    const sent =
      description?.type === "offer" ? signaling.sendOffer(description.sdp ?? "", burst)
      : description?.type === "answer" ? signaling.sendAnswer(description.sdp ?? "", burst)
      : signaling.sendCandidates(burst.candidates, burst.endOfCandidates);
    sent.catch((error: unknown) => this.fail(error));
  }

  private afterRemoteWork(work: () => Promise<void>): Promise<void> {
    const next = this.remoteWork.then(work).catch((error: unknown) => this.fail(error));
    this.remoteWork = next;
    return next;
  }

  /**
   * Adds `burst` after any candidates held so far; holds them all while there is no remote
   * description yet, or while this side is held (ringing).
   */
  private async addRemoteCandidates(burst: CandidateBurst): Promise<void> {
    this.earlyRemote.push(...burst.candidates);
    if (burst.endOfCandidates) this.earlyRemote.push({ candidate: "" });
    if (!this.pc.remoteDescription || this.held) return;
    // The browser applies them in order; waiting for each would only delay the next step.
    const added = this.earlyRemote.splice(0).map((candidate) =>
      this.pc.addIceCandidate(candidate).catch(() => {
        // One unusable candidate (or one of an offer ignored in glare) must not end the call;
        // ICE works with the candidates that do apply.
      }),
    );
    await Promise.all(added);
  }

  /**
   * The peer's camera and microphone: one stream for the whole call, which only ever gains
   * tracks. Video beyond the first video transceiver (the camera's, always negotiated first) is
   * a shared screen: kept apart (updateRemoteScreen), never in this stream.
   */
  private addRemoteTracks(tracks: MediaStreamTrack[]): void {
    const transceivers = this.pc.getTransceivers();
    const camera = transceivers.find((t) => t.receiver.track.kind === "video");
    const isScreen = (track: MediaStreamTrack) => {
      const transceiver = transceivers.find((t) => t.receiver.track === track);
      return track.kind === "video" && transceiver !== undefined && transceiver !== camera;
    };
    this.updateRemoteScreen();
    const fresh = tracks.filter((track) => !this.remote?.getTrackById(track.id) && !isScreen(track));
    if (fresh.length === 0) return;
    this.remote ??= new MediaStream();
    for (const track of fresh) this.remote.addTrack(track);
    this.emit("remoteStream", this.remote);
  }

  /**
   * How many people the call has (this side included): in a group call each sender's size and
   * bitrate are capped (meshVideoLimit), at once if the connection is up, else after the first
   * frames.
   */
  setCallSize(participants: number): void {
    if (this.closed || participants === this.callSize) return;
    this.callSize = participants;
    if (this.everConnected && this.fullSizeTimer === undefined) this.applyFullSize();
  }

  /** Before the first connection: the first frames go out small (FIRST_FRAMES). */
  private startSmall(): void {
    if (this.everConnected) return;
    const cap = meshVideoLimit(this.callSize);
    void limitVideoHeight(this.pc.getSenders(), Math.min(FIRST_FRAMES.maxHeight, cap.maxHeight), cap.maxBitrate);
  }

  /** The size the call's video settles at once the first frames are out. */
  private applyFullSize(): void {
    const cap = meshVideoLimit(this.callSize);
    void limitVideoHeight(this.pc.getSenders(), cap.maxHeight, cap.maxBitrate);
  }

  private connectionChanged(): void {
    const state = this.pc.connectionState;
    this.emit("connectionState", state);
    if (state === "connected" && !this.everConnected) {
      this.everConnected = true;
      this.fullSizeTimer = setTimeout(() => {
        this.fullSizeTimer = undefined;
        this.applyFullSize();
      }, FIRST_FRAMES.fullSizeAfterMs);
    }
    clearTimeout(this.restartTimer);
    if (state === "connected" || state === "closed") {
      clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    } else if ((state === "disconnected" || state === "failed") && this.everConnected) {
      // Lost mid-call: the restart below gets as long as a first connection had.
      this.armConnectTimeout();
    }
    // Exactly one side restarts ICE, so both do not offer at once; only to recover a call that
    // was up: before that, every candidate went with the offer and the answer, so a restart
    // would only repeat checks that failed (against a relay that forwards nothing, one restart
    // after another), and the connect timeout ends the attempt.
    if (this.options.polite || this.closed || !this.everConnected) return;
    if (state === "failed") this.restartIce();
    if (state === "disconnected") {
      this.restartTimer = setTimeout(() => this.restartIce(), this.options.disconnectedRestartMs ?? 2000);
    }
  }

  /** Starts the connect timeout unless one runs already or the connection is up. */
  private armConnectTimeout(): void {
    if (this.closed || this.connectTimer !== undefined || this.pc.connectionState === "connected") return;
    this.connectTimer = setTimeout(() => {
      if (!this.closed && this.pc.connectionState !== "connected") this.emit("connectFailed", this.failureCause());
    }, this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  }

  private gatheringChanged(): void {
    const state = this.pc.iceGatheringState;
    if (state === "gathering") {
      // A new gathering (the first, or an ICE restart's) is judged on its own.
      this.gathered = 0;
      this.relayRefused = false;
      this.relayUnreachable = false;
    }
  }

  private gatheringEndedNow(): void {
    for (const wake of this.gatheringWaiters.splice(0)) wake();
  }

  /** TURN's answers while gathering name the likely cause if the call cannot connect. */
  private candidateError(event: Event): void {
    const { errorCode, url } = event as RTCPeerConnectionIceErrorEvent;
    if (!/^turns?:/.test(url ?? "")) return; // an unreachable STUN server costs only a candidate
    if (errorCode === 401) this.relayRefused = true;
    else if (errorCode === 701) this.relayUnreachable = true;
  }

  /** Shows (or stops showing) the track the peer said is its screen, once its transceiver exists. */
  private updateRemoteScreen(): void {
    const mid = this.remoteScreenMid;
    const track = mid === null ? undefined : this.pc.getTransceivers().find((t) => t.mid === mid)?.receiver.track;
    if (track === this.remoteScreen?.getVideoTracks()[0]) return;
    this.remoteScreen = track ? new MediaStream([track]) : undefined;
    this.emit("remoteScreen", this.remoteScreen);
  }

  private sendControl(message: ControlMessage): void {
    if (this.channel.readyState === "open") this.channel.send(JSON.stringify(message));
  }

  private receiveControl(data: unknown): void {
    if (typeof data !== "string") return;
    try {
      const message = JSON.parse(data) as ControlMessage;
      if (message.type === "media") {
        this.remoteScreenMid = typeof message.screen === "string" ? message.screen : null;
        this.updateRemoteScreen();
      }
      if (message.type === "media" || message.type === "bye") this.emit("control", message);
    } catch {
      // A malformed message from the peer is ignored; it cannot affect our state.
    }
  }

  /** Sends on the chat channel; false while it is not open (ChatRoom sends again when it opens). */
  sendChat(message: ChatWire): boolean {
    if (this.closed || this.chatChannel.readyState !== "open") return false;
    this.chatChannel.send(JSON.stringify(message));
    return true;
  }

  private receiveChat(data: unknown): void {
    if (typeof data !== "string") return;
    try {
      this.emit("chat", JSON.parse(data) as unknown);
    } catch {
      // Not JSON: ignored, like a malformed control message.
    }
  }

  private fail(error: unknown): void {
    if (!this.closed) this.emit("error", error instanceof Error ? error : new Error(String(error)));
  }
}
