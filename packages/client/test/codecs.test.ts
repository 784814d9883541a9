import { describe, expect, it } from "vitest";
import { preferredCodecs } from "../src/index.js";

/** RTCRtpReceiver.getCapabilities() in Chromium 156 (Debian), trimmed to the fields used. */
const CHROMIUM_AUDIO = [
  { mimeType: "audio/opus", sdpFmtpLine: "minptime=10;useinbandfec=1" },
  { mimeType: "audio/red" },
  { mimeType: "audio/G722" },
  { mimeType: "audio/PCMU" },
  { mimeType: "audio/PCMA" },
  { mimeType: "audio/CN" },
  { mimeType: "audio/telephone-event" },
  { mimeType: "audio/telephone-event" },
];
const h264 = (mode: number, profile: string) => ({
  mimeType: "video/H264",
  sdpFmtpLine: `level-asymmetry-allowed=1;packetization-mode=${mode};profile-level-id=${profile}`,
});
const CHROMIUM_VIDEO = [
  { mimeType: "video/VP8" },
  { mimeType: "video/rtx" },
  { mimeType: "video/VP9", sdpFmtpLine: "profile-id=0" },
  { mimeType: "video/VP9", sdpFmtpLine: "profile-id=2" },
  { mimeType: "video/VP9", sdpFmtpLine: "profile-id=1" },
  { mimeType: "video/VP9", sdpFmtpLine: "profile-id=3" },
  h264(1, "42001f"),
  h264(0, "42001f"),
  h264(1, "42e01f"),
  h264(0, "42e01f"),
  h264(1, "4d001f"),
  h264(0, "4d001f"),
  h264(1, "f4001f"),
  h264(0, "f4001f"),
  { mimeType: "video/AV1", sdpFmtpLine: "level-idx=5;profile=0;tier=0" },
  { mimeType: "video/AV1", sdpFmtpLine: "level-idx=5;profile=1;tier=0" },
  { mimeType: "video/red" },
  { mimeType: "video/ulpfec" },
  { mimeType: "video/flexfec-03", sdpFmtpLine: "repair-window=10000000" },
];

describe("preferredCodecs", () => {
  it("keeps Opus with RED from Chromium's audio codecs", () => {
    expect(preferredCodecs(CHROMIUM_AUDIO).map((c) => c.mimeType)).toEqual(["audio/opus", "audio/red"]);
  });

  it("keeps VP8, VP9 profile 0, constrained-baseline H.264 (mode 1), AV1 main and RTX, in the browser's order", () => {
    expect(preferredCodecs(CHROMIUM_VIDEO)).toEqual([
      { mimeType: "video/VP8" },
      { mimeType: "video/rtx" },
      { mimeType: "video/VP9", sdpFmtpLine: "profile-id=0" },
      h264(1, "42e01f"),
      { mimeType: "video/AV1", sdpFmtpLine: "level-idx=5;profile=0;tier=0" },
    ]);
  });

  it("matches MIME types and profile ids regardless of case, and VP9 without a profile id as profile 0", () => {
    expect(preferredCodecs([{ mimeType: "video/vp9" }, h264(1, "42E01F")])).toEqual([{ mimeType: "video/vp9" }, h264(1, "42E01F")]);
  });

  it("keeps every codec of a browser it knows none of (RTX or RED alone do not count)", () => {
    const unknown = [{ mimeType: "video/H266" }, { mimeType: "video/rtx" }];
    expect(preferredCodecs(unknown)).toEqual(unknown);
  });
});
