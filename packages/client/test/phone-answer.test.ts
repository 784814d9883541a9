import { describe, expect, it } from "vitest";
import { Emitter } from "../src/emitter.js";
import { Phone, type SignalingClient, type SignalingEvents } from "../src/index.js";
import { StandInPeerConnection } from "./stand-in-peer-connection.js";

/** The part of SignalingClient a Phone uses to place a call and hear its answer. */
class StandInSignaling extends Emitter<SignalingEvents> {
  state = "online";
  user = "alice";
  rtcConfiguration = {};
  sendOffer = async () => "call-1";
  sendAnswer = async () => {};
  sendIceCandidates = async () => {};
  endCall = async () => {};
  deliver<K extends keyof SignalingEvents>(event: K, payload: SignalingEvents[K]) {
    this.emit(event, payload);
  }
}

/** alice's Phone calling bob, on stand-ins: the signaling the test drives and the call's connection. */
function callBob() {
  const signaling = new StandInSignaling();
  const phone = new Phone({
    signaling: signaling as unknown as SignalingClient,
    RTCPeerConnection: StandInPeerConnection as unknown as typeof RTCPeerConnection,
  });
  phone.call("bob");
  const pc = StandInPeerConnection.last;
  if (!pc) throw new Error("no peer connection");
  return { signaling, phone, pc };
}

describe("Phone on the callee's answer", () => {
  it("shows 'connecting' only once the answer is applied, so no render runs while it is", async () => {
    const { signaling, phone, pc } = callBob();
    let applied!: () => void;
    const applying = new Promise<void>((resolve) => (applied = resolve));
    pc.setRemoteDescription = async () => applying;

    signaling.deliver("answer", { callId: "call-1", from: "bob", sdp: "answer-sdp", polite: false, ringing: false, burst: { candidates: [], endOfCandidates: true } });
    expect(phone.getSnapshot().call?.phase).toBe("outgoing");
    // Still so once everything else queued has run: only the answer being applied moves it on.
    await new Promise((resolve) => setImmediate(resolve));
    expect(phone.getSnapshot().call?.phase).toBe("outgoing");

    applied();
    await expect.poll(() => phone.getSnapshot().call?.phase).toBe("connecting");
    phone.dispose();
  });

  it("applies the callee's ringing answer while it still rings, then takes the answer that accepts without applying it again", async () => {
    const { signaling, phone, pc } = callBob();
    pc.onnegotiationneeded?.();
    await expect.poll(() => pc.signalingState).toBe("have-local-offer");
    const applied: string[] = [];
    const setRemote = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = async (description) => {
      applied.push(description.sdp ?? "");
      await setRemote(description);
    };
    const added: string[] = [];
    pc.addIceCandidate = async (candidate?: RTCIceCandidateInit) => void added.push(candidate?.candidate ?? "");

    signaling.deliver("answer", { callId: "call-1", from: "bob", sdp: "answer-sdp", polite: false, ringing: true, burst: { candidates: [], endOfCandidates: false } });
    await expect.poll(() => applied).toEqual(["answer-sdp"]);
    expect(phone.getSnapshot().call?.phase).toBe("outgoing");
    // A renegotiation wanted meanwhile waits: the callee's side takes no offer before Accept.
    pc.onnegotiationneeded?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pc.signalingState).toBe("stable");

    const burst = { candidates: [{ candidate: "bob-udp" }], endOfCandidates: true };
    signaling.deliver("answer", { callId: "call-1", from: "bob", sdp: "answer-sdp", polite: false, ringing: false, burst });
    await expect.poll(() => phone.getSnapshot().call?.phase).toBe("connecting");
    expect(applied).toEqual(["answer-sdp"]);
    expect(added).toEqual(["bob-udp", ""]);
    await expect.poll(() => pc.signalingState).toBe("have-local-offer");
    phone.dispose();
  });
});
