import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { EndReason } from "@peertobeer/protocol";
import { Emitter } from "../src/emitter.js";
import {
  CONNECT_TIMEOUT_MS,
  Phone,
  type CallSignaling,
  type ConnectFailureCause,
  type PeerCall,
  type SignalingClient,
  type SignalingEvents,
} from "../src/index.js";
import { StandInPeerConnection } from "./stand-in-peer-connection.js";

/*
 * A call that cannot connect ends with a cause instead of hanging on "Connecting…": the connect
 * timeout after Accept (and after a connected call loses its connection), and a gathering that
 * ends without one candidate. Real TURN failures are in e2e/connect-failure.spec.ts.
 */

const TURN = "turn:127.0.0.1:3478?transport=udp";

function quietSignaling(log: string[] = []): CallSignaling {
  return {
    sendOffer: async () => void log.push("offer"),
    sendAnswer: async () => void log.push("answer"),
    sendCandidates: async () => void log.push("candidates"),
  };
}

function failures(call: PeerCall): ConnectFailureCause[] {
  const seen: ConnectFailureCause[] = [];
  call.on("connectFailed", (cause) => void seen.push(cause));
  return seen;
}

/** The callee, ringing with the caller's offer applied and one candidate of its own gathered. */
async function ringingCallee() {
  const { call, pc } = StandInPeerConnection.newCall({ signaling: quietSignaling(), polite: true, held: true });
  const failed = failures(call);
  await call.handleDescription({ type: "offer", sdp: "offer-sdp" });
  pc.gather("relay");
  pc.gather(null);
  return { call, pc, failed };
}

describe("PeerCall's connect timeout", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs from Accept, not while it rings, and ends the attempt as no-path", async () => {
    const { call, failed } = await ringingCallee();
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS * 2);
    expect(failed).toEqual([]);
    call.release();
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS - 1);
    expect(failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(failed).toEqual(["no-path"]);
  });

  it("runs on the caller's side from the answer", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling: quietSignaling(), polite: false });
    const failed = failures(call);
    call.start();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    pc.gather("relay");
    pc.gather(null);
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS);
    expect(failed).toEqual([]);
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS);
    expect(failed).toEqual(["no-path"]);
  });

  it("stops once connected, and starts again when a connected call loses its connection (ICE restart)", async () => {
    const { call, pc, failed } = await ringingCallee();
    call.release();
    pc.becomes("connecting");
    pc.becomes("connected");
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS * 2);
    expect(failed).toEqual([]);

    // A blip that recovers ends nothing.
    pc.becomes("disconnected");
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS - 1000);
    pc.becomes("connected");
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS * 2);
    expect(failed).toEqual([]);

    // A restart that never reconnects ends the call, whether ICE says failed or stays disconnected.
    pc.becomes("disconnected");
    await vi.advanceTimersByTimeAsync(1000);
    pc.becomes("failed");
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS - 1001);
    expect(failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(failed).toEqual(["no-path"]);
  });

  it("names the TURN server's refusal seen while gathering; an unreachable STUN server is no cause", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling: quietSignaling(), polite: true, held: true });
    const failed = failures(call);
    await call.handleDescription({ type: "offer", sdp: "offer-sdp" });
    pc.candidateError(701, "stun:stun.example.com:19302");
    pc.gather("host");
    pc.gather(null);
    expect(call.failureCause()).toBe("no-path");
    call.release();
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS);
    expect(failed).toEqual(["no-path"]);
  });

  it("is closed with the call", async () => {
    const { call, failed } = await ringingCallee();
    call.release();
    call.close();
    await vi.advanceTimersByTimeAsync(CONNECT_TIMEOUT_MS * 2);
    expect(failed).toEqual([]);
  });
});

describe("a gathering that ends without one candidate", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const cases: { name: string; errors: [number, string][]; cause: ConnectFailureCause }[] = [
    { name: "TURN refused the credentials (401)", errors: [[401, TURN]], cause: "relay-refused" },
    { name: "TURN could not be reached (701)", errors: [[701, "turns:127.0.0.1:5349?transport=tcp"]], cause: "relay-unreachable" },
    { name: "nothing said why (relay-only without a TURN server)", errors: [], cause: "no-candidates" },
  ];

  it.each(cases)("fails the call at once, after its offer went out: $name", async ({ errors, cause }) => {
    const log: string[] = [];
    const { call, pc } = StandInPeerConnection.newCall({ signaling: quietSignaling(log), polite: false });
    const failed: string[] = [];
    call.on("connectFailed", (c) => void failed.push(c));
    call.on("connectFailed", () => void log.push("failed"));
    call.start();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    for (const [code, url] of errors) pc.candidateError(code, url);
    pc.gather(null);
    // The callee hears that someone called, and (from the caller's EndCall) why it failed.
    expect(log).toEqual(["offer", "failed"]);
    expect(failed).toEqual([cause]);
  });

  it("is judged anew on an ICE restart's gathering", async () => {
    const { call, pc, failed } = await ringingCallee();
    pc.candidateError(401, TURN); // an earlier gathering's trouble, since resolved
    call.release();
    pc.becomes("connected");
    pc.iceGatheringState = "new";
    await pc.setLocalDescription({ type: "offer", sdp: "restart" });
    pc.gather("relay");
    pc.gather(null);
    expect(call.failureCause()).toBe("no-path");
    expect(failed).toEqual([]);
  });

  it("leaves an ICE restart's gathering without a new candidate to the connect timeout (the polite side's answer in restart glare)", async () => {
    const { call, pc, failed } = await ringingCallee();
    call.release();
    pc.becomes("connected");
    pc.iceGatheringState = "new";
    await pc.setLocalDescription({ type: "answer", sdp: "restart" });
    pc.gather(null);
    expect(failed).toEqual([]);
  });
});

/** The part of SignalingClient a Phone uses, delivering what the test says. */
class StandInSignaling extends Emitter<SignalingEvents> {
  state = "online";
  user = "bob";
  rtcConfiguration: RTCConfiguration = { iceServers: [] };
  readonly ended: { callId: string; reason: EndReason }[] = [];
  sendOffer = async () => "call-1";
  sendAnswer = async () => {};
  sendIceCandidates = async () => {};
  endCall = async (callId: string, reason: EndReason) => void this.ended.push({ callId, reason });
  deliver<K extends keyof SignalingEvents>(event: K, payload: SignalingEvents[K]) {
    this.emit(event, payload);
  }
}

function phoneOf(signaling: StandInSignaling) {
  return new Phone({
    signaling: signaling as unknown as SignalingClient,
    RTCPeerConnection: StandInPeerConnection as unknown as typeof RTCPeerConnection,
  });
}

const OFFER = { callId: "call-1", from: "alice", sdp: "offer-sdp", renegotiation: false, polite: true, burst: { candidates: [], endOfCandidates: true }, participants: [] };

describe("Phone on a call that cannot connect", () => {
  it("tells the server (CONNECT_FAILED) and the UI, with the cause, when its own side gives up", async () => {
    const signaling = new StandInSignaling();
    const phone = phoneOf(signaling);
    signaling.deliver("offer", OFFER);
    const pc = StandInPeerConnection.last;
    if (!pc) throw new Error("no peer connection");
    await vi.waitFor(() => expect(pc.iceGatheringState).toBe("gathering"));
    pc.candidateError(401, TURN);
    pc.gather(null);
    expect(phone.getSnapshot().call).toBeUndefined();
    expect(phone.getSnapshot().lastOutcome).toMatchObject({ kind: "ended", reason: EndReason.CONNECT_FAILED, by: "me", cause: "relay-refused" });
    await vi.waitFor(() => expect(signaling.ended).toEqual([{ callId: "call-1", reason: EndReason.CONNECT_FAILED }]));
    phone.dispose();
  });

  it("when the peer gave up first, waits for its own gathering to name the cause", async () => {
    const signaling = new StandInSignaling();
    const phone = phoneOf(signaling);
    signaling.deliver("offer", OFFER);
    const pc = StandInPeerConnection.last;
    if (!pc) throw new Error("no peer connection");
    await vi.waitFor(() => expect(pc.iceGatheringState).toBe("gathering"));
    signaling.deliver("callEnded", { callId: "call-1", from: "alice", reason: EndReason.CONNECT_FAILED });
    await new Promise((resolve) => setImmediate(resolve));
    expect(phone.getSnapshot().call?.phase).toBe("incoming");
    // Direct paths blocked, and TURN refuses this side too: its host candidate cannot help.
    pc.gather("host");
    pc.candidateError(401, TURN);
    pc.gather(null);
    await vi.waitFor(() => expect(phone.getSnapshot().call).toBeUndefined());
    expect(phone.getSnapshot().lastOutcome).toMatchObject({ reason: EndReason.CONNECT_FAILED, by: "peer", cause: "relay-refused" });
    // The call ended on the server with the peer's EndCall; this side sends none of its own.
    expect(signaling.ended).toEqual([]);
    phone.dispose();
  });

  it("hands fresh ICE servers (TURN credentials) to the live call, keeping max-bundle", async () => {
    const signaling = new StandInSignaling();
    const phone = phoneOf(signaling);
    signaling.deliver("offer", OFFER);
    const pc = StandInPeerConnection.last;
    if (!pc) throw new Error("no peer connection");
    const fresh: RTCConfiguration = { iceServers: [{ urls: TURN, username: "2:bob", credential: "new" }], iceTransportPolicy: "relay" };
    signaling.deliver("iceServers", fresh);
    expect(pc.configurations).toEqual([{ ...fresh, bundlePolicy: "max-bundle" }]);
    phone.dispose();
  });
});

describe("ICE restarts", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("recover a call that was up, and never repeat the checks of one that never connected", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling: quietSignaling(), polite: false });
    let restarts = 0;
    pc.restartIce = () => void restarts++;
    call.start();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    pc.gather("relay");
    pc.gather(null);
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });
    pc.becomes("checking" as RTCPeerConnectionState);
    pc.becomes("failed");
    expect(restarts).toBe(0);
    pc.becomes("connected");
    pc.becomes("failed");
    expect(restarts).toBe(1);
  });
});
