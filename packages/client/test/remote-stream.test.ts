import { describe, expect, it } from "vitest";
import type { CallSignaling } from "../src/index.js";
import { StandInPeerConnection } from "./stand-in-peer-connection.js";

const signaling: CallSignaling = { sendOffer: async () => {}, sendAnswer: async () => {}, sendCandidates: async () => {} };
const track = (kind: string) => ({ kind, getSettings: () => ({ height: 360 }) });
const camera = { getTracks: () => [track("audio"), track("video")] } as unknown as MediaStream;

type StandInCall = ReturnType<typeof StandInPeerConnection.newCall>["call"];

/** Every remoteStream a call emits, with the track kinds it held at that moment. */
function watch(call: StandInCall) {
  const seen: { stream: MediaStream; kinds: string[] }[] = [];
  call.on("remoteStream", (stream) => seen.push({ stream, kinds: stream.getTracks().map((t) => t.kind) }));
  return seen;
}

describe("PeerCall's remote stream", () => {
  it("is there for the caller from the start, before any answer, and stays the same stream", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling, polite: false, localStream: camera });
    const seen = watch(call);
    call.start();
    expect(seen.map((s) => s.kinds)).toEqual([["audio", "video"]]);

    // The answer's track events bring the same receiver tracks: nothing changes for a UI.
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });
    for (const receiver of pc.getReceivers()) pc.ontrack?.({ track: receiver.track });
    expect(seen).toHaveLength(1);

    // A track the peer adds later joins the same stream.
    pc.ontrack?.({ track: { id: "added-later", kind: "video" } });
    expect(seen.map((s) => s.kinds)).toEqual([["audio", "video"], ["audio", "video", "video"]]);
    expect(seen[1]?.stream).toBe(seen[0]?.stream);
    call.close();
  });

  it("is there without a camera or microphone too: the peer is still seen and heard", () => {
    const { call } = StandInPeerConnection.newCall({ signaling, polite: false });
    const seen = watch(call);
    call.start();
    expect(seen.map((s) => s.kinds)).toEqual([["audio", "video"]]);
    call.close();
  });

  it("is there for a ringing callee once the offer is applied, before Accept", async () => {
    const { call } = StandInPeerConnection.newCall({ signaling, polite: true, localStream: camera, held: true });
    const seen = watch(call);
    await call.handleDescription({ type: "offer", sdp: "offer-sdp" });
    expect(seen.map((s) => s.kinds)).toEqual([["audio", "video"]]);
    call.close();
  });
});
