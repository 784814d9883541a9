import { describe, expect, it, vi } from "vitest";
import { PeerCall, type CallSignaling, type ControlMessage } from "../src/index.js";

/*
 * PeerCall's device switch (replaceTrack) and screen share (setScreen) against a stand-in
 * RTCPeerConnection that records what they do to senders and transceivers; the media itself is
 * tested in Chromium (e2e/devices.spec.ts, e2e/screenshare.spec.ts).
 */

interface Track {
  id: string;
  kind: string;
  label: string;
  enabled: boolean;
  getSettings(): { height?: number };
}
let trackCount = 0;
const track = (kind: string, label = kind): Track => ({ id: `t${++trackCount}`, kind, label, enabled: true, getSettings: () => ({ height: 360 }) });

class Stream {
  private readonly tracks: Track[];
  constructor(tracks: Track[] = []) {
    this.tracks = [...tracks];
  }
  addTrack(t: Track) {
    this.tracks.push(t);
  }
  getTracks() {
    return [...this.tracks];
  }
  getVideoTracks() {
    return this.tracks.filter((t) => t.kind === "video");
  }
  getTrackById(id: string) {
    return this.tracks.find((t) => t.id === id) ?? null;
  }
}
globalThis.MediaStream = Stream as unknown as typeof MediaStream;

class Sender {
  streams: unknown[] = [];
  constructor(public track: Track | null) {}
  async replaceTrack(t: Track | null) {
    this.track = t;
  }
  setStreams(...streams: unknown[]) {
    this.streams = streams;
  }
  getParameters() {
    return { encodings: [{}] };
  }
  async setParameters() {}
}

class Transceiver {
  mid: string | null = null;
  readonly sender: Sender;
  readonly receiver: { track: Track };
  private dir: string;
  constructor(
    private readonly pc: FakePeerConnection,
    kind: string,
    sent: Track | null,
    direction: string,
  ) {
    this.sender = new Sender(sent);
    this.receiver = { track: track(kind, `remote ${kind}`) };
    this.dir = direction;
  }
  get direction() {
    return this.dir;
  }
  set direction(value: string) {
    if (value === this.dir) return;
    this.dir = value;
    this.pc.negotiationNeeded();
  }
}

class FakePeerConnection {
  static last: FakePeerConnection;
  onnegotiationneeded: (() => void) | null = null;
  onsignalingstatechange: (() => void) | null = null;
  ontrack: ((event: { track: Track }) => void) | null = null;
  onicecandidate = null;
  onicegatheringstatechange = null;
  onicecandidateerror = null;
  onconnectionstatechange = null;
  signalingState = "stable";
  iceGatheringState = "complete";
  connectionState = "connected";
  localDescription: RTCSessionDescriptionInit | null = null;
  remoteDescription: RTCSessionDescriptionInit | null = null;
  currentRemoteDescription: RTCSessionDescriptionInit | null = null;
  readonly transceivers: Transceiver[] = [];
  negotiations = 0;
  readonly sent: ControlMessage[] = [];
  readonly channel = {
    onopen: null as (() => void) | null,
    onmessage: null as ((event: { data: string }) => void) | null,
    onclose: null,
    readyState: "open",
    close() {},
    send: (data: string) => this.sent.push(JSON.parse(data) as ControlMessage),
  };
  /** Offers set as the local description so far. */
  localOffers = 0;
  constructor() {
    FakePeerConnection.last = this;
  }
  negotiationNeeded() {
    this.negotiations += 1;
    this.onnegotiationneeded?.();
  }
  /** The control channel is ours to drive; any other (the chat's) gets a channel of its own. */
  createDataChannel(label: string) {
    if (label === "control") return this.channel;
    return { onopen: null, onmessage: null, onclose: null, readyState: "connecting", close() {}, send() {} };
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
  addTrack(t: Track) {
    const transceiver = new Transceiver(this, t.kind, t, "sendrecv");
    this.transceivers.push(transceiver);
    this.negotiationNeeded();
    return transceiver.sender;
  }
  addTransceiver(what: Track | string, init: { direction: string }) {
    const transceiver =
      typeof what === "string" ? new Transceiver(this, what, null, init.direction) : new Transceiver(this, what.kind, what, init.direction);
    this.transceivers.push(transceiver);
    this.negotiationNeeded();
    return transceiver;
  }
  async createOffer() {
    return { type: "offer" as const, sdp: "offer" };
  }
  async createAnswer() {
    return { type: "answer" as const, sdp: "answer" };
  }
  async setLocalDescription(description: RTCSessionDescriptionInit) {
    this.localDescription = description;
    if (description.type === "offer") this.localOffers += 1;
    this.transceivers.forEach((t, i) => (t.mid ??= String(i)));
    this.signalingState = description.type === "offer" ? "have-local-offer" : "stable";
    this.onsignalingstatechange?.();
  }
  async setRemoteDescription(description: RTCSessionDescriptionInit) {
    this.remoteDescription = this.currentRemoteDescription = description;
    this.signalingState = description.type === "offer" ? "have-remote-offer" : "stable";
    this.onsignalingstatechange?.();
  }
  async addIceCandidate() {}
  restartIce() {}
  setConfiguration() {}
  close() {}
}

function newCall() {
  const offers: string[] = [];
  const signaling: CallSignaling = { sendOffer: async (sdp) => void offers.push(sdp), sendAnswer: async () => {}, sendCandidates: async () => {} };
  const camera = track("video", "camera");
  const microphone = track("audio", "microphone");
  const stream = new Stream([microphone, camera]);
  const call = new PeerCall({
    RTCPeerConnection: FakePeerConnection as unknown as typeof RTCPeerConnection,
    rtcConfiguration: {},
    signaling,
    polite: false,
    localStream: stream as unknown as MediaStream,
    descriptionWaitMs: 0,
  });
  const pc = FakePeerConnection.last;
  call.start();
  return { call, pc, camera, microphone, offers };
}

/** Waits for the offer the last change set off to go out to the peer, then answers it. */
async function settle(call: PeerCall, pc: FakePeerConnection, offers: string[]) {
  await vi.waitFor(() => expect({ state: pc.signalingState, sent: offers.length }).toEqual({ state: "have-local-offer", sent: pc.localOffers }));
  await call.handleDescription({ type: "answer", sdp: "answer" });
}

describe("PeerCall's device switch", () => {
  it("swaps the camera on its sender without renegotiating, and keeps the camera off", async () => {
    const { call, pc, camera, offers } = newCall();
    await settle(call, pc, offers);
    const negotiations = pc.negotiations;
    call.setMediaEnabled("video", false);
    const next = track("video", "other camera");
    await call.replaceTrack(camera as unknown as MediaStreamTrack, next as unknown as MediaStreamTrack);
    expect(pc.getSenders().map((s) => s.track?.label)).toEqual(["microphone", "other camera"]);
    expect(next.enabled).toBe(false);
    expect(pc.negotiations).toBe(negotiations);
  });
});

describe("PeerCall's screen share", () => {
  it("adds the screen on its own transceiver after the camera, tells the peer its mid, and reuses it for the next share", async () => {
    const { call, pc, offers } = newCall();
    await settle(call, pc, offers);
    const before = offers.length;
    const screen = track("video", "screen:0");
    call.setScreen({ track: screen as unknown as MediaStreamTrack, stream: new Stream([screen]) as unknown as MediaStream });
    await settle(call, pc, offers);
    expect(offers.length).toBe(before + 1); // renegotiated
    expect(pc.getSenders().map((s) => s.track?.label ?? null)).toEqual(["microphone", "camera", "screen:0"]);
    const mid = pc.transceivers[2]?.mid;
    expect(pc.sent.at(-1)).toEqual({ type: "media", audio: true, video: true, screen: mid });

    call.setScreen(undefined);
    expect(pc.sent.at(-1)).toEqual({ type: "media", audio: true, video: true, screen: null }); // at once
    await settle(call, pc, offers);
    expect(offers.length).toBe(before + 2);
    expect(pc.transceivers.map((t) => [t.sender.track?.label ?? null, t.direction])).toEqual([
      ["microphone", "sendrecv"],
      ["camera", "sendrecv"],
      [null, "recvonly"],
    ]);

    const again = track("video", "screen:1");
    call.setScreen({ track: again as unknown as MediaStreamTrack, stream: new Stream([again]) as unknown as MediaStream });
    await settle(call, pc, offers);
    expect(pc.transceivers).toHaveLength(3);
    expect(pc.transceivers[2]?.sender.track?.label).toBe("screen:1");
    expect(pc.sent.at(-1)).toEqual({ type: "media", audio: true, video: true, screen: mid });
    call.close();
  });

  it("on the receiving side keeps the peer's screen out of the camera stream and shows it while they say so", async () => {
    const { call, pc, offers } = newCall();
    await settle(call, pc, offers);
    const screens: (MediaStream | undefined)[] = [];
    let camera: MediaStream | undefined;
    call.on("remoteScreen", (stream) => screens.push(stream));
    call.on("remoteStream", (stream) => (camera = stream));
    // Their offer adds a video m-line: their screen.
    const theirs = pc.addTransceiver("video", { direction: "recvonly" });
    theirs.mid = "3";
    pc.ontrack?.({ track: theirs.receiver.track });
    pc.channel.onmessage?.({ data: JSON.stringify({ type: "media", audio: true, video: true, screen: "3" }) });
    expect(screens.map((s) => s?.getTracks().map((t) => t.id))).toEqual([[theirs.receiver.track.id]]);
    expect(camera?.getTrackById(theirs.receiver.track.id) ?? null).toBeNull();

    pc.channel.onmessage?.({ data: JSON.stringify({ type: "media", audio: true, video: true, screen: null }) });
    expect(screens.at(-1)).toBeUndefined();
    call.close();
  });
});
