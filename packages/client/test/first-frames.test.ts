import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FIRST_FRAMES, limitVideoHeight, type CallSignaling } from "../src/index.js";
import { StandInPeerConnection, StandInSender } from "./stand-in-peer-connection.js";

const camera = (height: number) => ({ kind: "video", getSettings: () => ({ height }) });
const microphone = { kind: "audio", getSettings: () => ({}) };

describe("limitVideoHeight", () => {
  it("scales each video sender down to the height, and back to the camera's own size", async () => {
    const hd = new StandInSender(camera(720));
    const fullHd = new StandInSender(camera(1080));
    const small = new StandInSender(camera(360));
    const audio = new StandInSender(microphone);
    const senders = [hd, fullHd, small, audio] as never[];

    await limitVideoHeight(senders, 360);
    expect([hd.scale, fullHd.scale, small.scale, audio.scale]).toEqual([2, 3, undefined, undefined]);
    expect(small.applied).toEqual([]);
    expect(audio.applied).toEqual([]);

    await limitVideoHeight(senders, Number.POSITIVE_INFINITY);
    expect([hd.scale, fullHd.scale]).toEqual([1, 1]);
    expect(small.applied).toEqual([]);
  });

  it("leaves a sender the browser refuses to change as it is, without failing", async () => {
    const refusing = new StandInSender(camera(720));
    refusing.setParameters = () => Promise.reject(new DOMException("refused", "InvalidModificationError"));
    await expect(limitVideoHeight([refusing] as never[], 360)).resolves.toBeUndefined();
  });
});

describe("PeerCall's first frames (FIRST_FRAMES)", () => {
  const signaling: CallSignaling = { sendOffer: async () => {}, sendAnswer: async () => {}, sendCandidates: async () => {} };
  const stream = (height: number) => ({ getTracks: () => [microphone, camera(height)] }) as unknown as MediaStream;

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends video small until the connection has been up for a while, then at full size", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling, polite: false, localStream: stream(720) });
    call.start();
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    const video = pc.getSenders().find((sender) => sender.track?.kind === "video");
    expect(video?.scale).toBe(720 / FIRST_FRAMES.maxHeight);
    await call.handleDescription({ type: "answer", sdp: "answer-sdp" });

    pc.becomes("connecting");
    pc.becomes("connected");
    await vi.advanceTimersByTimeAsync(FIRST_FRAMES.fullSizeAfterMs - 1);
    expect(video?.scale).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(video?.scale).toBe(1);

    // Later negotiations (an ICE restart after a blip, say) keep the full size.
    pc.becomes("disconnected");
    pc.onnegotiationneeded?.();
    await vi.advanceTimersByTimeAsync(0);
    expect(pc.localDescription?.type).toBe("offer");
    expect(pc.signalingState).toBe("have-local-offer");
    pc.becomes("connected");
    await vi.advanceTimersByTimeAsync(FIRST_FRAMES.fullSizeAfterMs);
    expect(video?.applied).toEqual([2, 1]);
    call.close();
  });

  it("a callee's answer, prepared while it rings, already sends small", async () => {
    const { call, pc } = StandInPeerConnection.newCall({ signaling, polite: true, held: true, localStream: stream(720) });
    // The offer creates the transceivers that the callee's tracks then take.
    pc.addTransceiver("audio", { direction: "recvonly" });
    pc.addTransceiver("video", { direction: "recvonly" });
    await call.handleDescription({ type: "offer", sdp: "offer-sdp" });
    const video = pc.getSenders().find((sender) => sender.track?.kind === "video");
    expect(video?.scale).toBe(2);
    call.close();
  });
});
