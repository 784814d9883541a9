import { PeerCall, type PeerCallOptions } from "../src/index.js";

/*
 * The part of RTCPeerConnection that PeerCall's negotiation and senders touch, for tests of
 * its timers: it gathers only what the test tells it to and connects when told (real calls
 * are in e2e/).
 */

/** A sender's encoding parameters, as Chromium keeps them. */
export class StandInSender {
  private parameters: { encodings: { scaleResolutionDownBy?: number }[] } = { encodings: [{}] };
  /** Every setParameters() call, in order. */
  readonly applied: (number | undefined)[] = [];

  constructor(readonly track: { kind: string; getSettings(): { height?: number } } | null) {}

  getParameters() {
    return structuredClone(this.parameters);
  }

  async setParameters(parameters: { encodings: { scaleResolutionDownBy?: number }[] }) {
    this.parameters = structuredClone(parameters);
    this.applied.push(parameters.encodings[0]?.scaleResolutionDownBy);
  }

  get scale(): number | undefined {
    return this.parameters.encodings[0]?.scaleResolutionDownBy;
  }
}

/** A receiver's track, as Chromium makes one with each transceiver (silent until media flows). */
export interface StandInTrack {
  id: string;
  kind: string;
}

interface StandInTransceiver {
  receiver: { track: StandInTrack };
  sender: StandInSender;
  direction: string;
}

/** What PeerCall does with the MediaStream it hands out, where Node has none. */
export class StandInMediaStream {
  private readonly tracks: StandInTrack[] = [];
  addTrack(track: StandInTrack) {
    this.tracks.push(track);
  }
  getTrackById(id: string) {
    return this.tracks.find((track) => track.id === id) ?? null;
  }
  getTracks() {
    return [...this.tracks];
  }
}
globalThis.MediaStream ??= StandInMediaStream as unknown as typeof MediaStream;

/** A negotiated data channel: opens, carries and closes when the test says. */
export class StandInChannel {
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  readyState: RTCDataChannelState = "connecting";
  /** Every message sent while open, in order. */
  readonly sent: string[] = [];

  constructor(
    readonly label: string,
    readonly init: RTCDataChannelInit | undefined,
  ) {}

  send(data: string) {
    if (this.readyState !== "open") throw new Error(`InvalidStateError: channel is ${this.readyState}`);
    this.sent.push(data);
  }
  close() {
    this.readyState = "closed";
  }
  /** The channel opens (again). */
  open() {
    this.readyState = "open";
    this.onopen?.();
  }
  /** A message from the peer. */
  deliver(data: unknown) {
    this.onmessage?.({ data });
  }
}

let trackCount = 0;
const receiverTrack = (kind: string): StandInTrack => ({ id: `remote-${kind}-${++trackCount}`, kind });

export class StandInPeerConnection {
  static last: StandInPeerConnection | undefined;
  onnegotiationneeded: (() => void) | null = null;
  onicecandidate: ((event: { candidate: { candidate: string; toJSON(): RTCIceCandidateInit } | null }) => void) | null = null;
  ontrack: ((event: { track: StandInTrack }) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  onicegatheringstatechange: (() => void) | null = null;
  onicecandidateerror: ((event: { errorCode: number; url: string }) => void) | null = null;
  /** Every setConfiguration() call, in order. */
  readonly configurations: RTCConfiguration[] = [];
  iceGatheringState: RTCIceGatheringState = "new";
  signalingState: RTCSignalingState = "stable";
  connectionState: RTCPeerConnectionState = "new";
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  currentRemoteDescription: RTCSessionDescriptionInit | null = null;
  private readonly transceivers: StandInTransceiver[] = [];

  constructor() {
    StandInPeerConnection.last = this;
  }

  /** A PeerCall on a stand-in connection, with the test's signaling and options. */
  static newCall(options: Omit<PeerCallOptions, "RTCPeerConnection" | "rtcConfiguration">): { call: PeerCall; pc: StandInPeerConnection } {
    const call = new PeerCall({
      RTCPeerConnection: StandInPeerConnection as unknown as typeof RTCPeerConnection,
      rtcConfiguration: {},
      ...options,
    });
    const pc = StandInPeerConnection.last;
    if (!pc) throw new Error("PeerCall made no peer connection");
    return { call, pc };
  }

  /** Every data channel the call made, in order. */
  readonly channels: StandInChannel[] = [];

  createDataChannel(label: string, init?: RTCDataChannelInit) {
    const channel = new StandInChannel(label, init);
    this.channels.push(channel);
    return channel;
  }
  getTransceivers() {
    return this.transceivers;
  }
  getSenders() {
    return this.transceivers.map((t) => t.sender);
  }
  getReceivers() {
    return this.transceivers.map((t) => t.receiver);
  }
  addTrack(track: { kind: string; getSettings(): { height?: number } }) {
    const sender = new StandInSender(track);
    this.transceivers.push({ receiver: { track: receiverTrack(track.kind) }, sender, direction: "sendrecv" });
    return sender;
  }
  addTransceiver(kind: string, init: { direction: string }) {
    this.transceivers.push({ receiver: { track: receiverTrack(kind) }, sender: new StandInSender(null), direction: init.direction });
  }
  async createOffer() {
    return { type: "offer" as const, sdp: "offer-sdp" };
  }
  async createAnswer() {
    return { type: "answer" as const, sdp: "answer-sdp" };
  }
  async setLocalDescription(description: RTCSessionDescriptionInit) {
    this.localDescription = description;
    this.signalingState = description.type === "offer" ? "have-local-offer" : "stable";
    if (this.iceGatheringState !== "complete") {
      this.iceGatheringState = "gathering";
      this.onicegatheringstatechange?.();
    }
  }
  async setRemoteDescription(description: RTCSessionDescriptionInit) {
    this.remoteDescription = description;
    this.currentRemoteDescription = description;
    this.signalingState = description.type === "offer" ? "have-remote-offer" : "stable";
  }
  async addIceCandidate() {}
  restartIce() {}
  setConfiguration(configuration: RTCConfiguration) {
    this.configurations.push(configuration);
  }
  close() {}

  /** The browser gathers a candidate (or, with null, ends gathering). */
  gather(candidate: string | null) {
    if (candidate === null) {
      this.iceGatheringState = "complete";
      this.onicegatheringstatechange?.();
    }
    this.onicecandidate?.({ candidate: candidate === null ? null : { candidate, toJSON: () => ({ candidate, sdpMid: "0" }) } });
  }

  /** A TURN (or STUN) server answered an allocation with an error while gathering. */
  candidateError(errorCode: number, url: string) {
    this.onicecandidateerror?.({ errorCode, url });
  }

  /** The connection changes state, as ICE and DTLS would make it. */
  becomes(state: RTCPeerConnectionState) {
    this.connectionState = state;
    this.onconnectionstatechange?.();
  }
}
