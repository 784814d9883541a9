/**
 * How a call's first video frames go out. Chromium's encoder starts from a low bandwidth
 * estimate and, with a 720p camera, drops the first frames (up to four) while it scales down to
 * what that estimate allows: the first frame arrives about 150 ms later, and at 180p–270p.
 * Sending at most `maxHeight` until the connection has been up for `fullSizeAfterMs` skips that
 * drop. In the bench's in-page floor (bench/browser/floor.ts, 15 calls) the first frames came
 * at p50 126 ms instead of 287 ms after Accept, at 360p. Then the camera's own size goes out and
 * the browser's own adaptation takes over.
 */
export const FIRST_FRAMES = { maxHeight: 360, fullSizeAfterMs: 1_000 };

/** The part of RTCRtpSender this needs. */
export type VideoSender = Pick<RTCRtpSender, "track" | "getParameters" | "setParameters">;

/**
 * What each video sender of a group call may use: with n people every sender uploads n − 1
 * copies of its camera (a full mesh), so the share of each shrinks as the call grows. A 1:1 call
 * has no cap (the browser adapts to the path). The budget is about 3 Mbit/s of video uplink in
 * total, which a home uplink carries; past six people a media server is the answer
 * (docs/ARCHITECTURE.md).
 */
export function meshVideoLimit(participants: number): { maxHeight: number; maxBitrate: number | undefined } {
  if (participants <= 2) return { maxHeight: Number.POSITIVE_INFINITY, maxBitrate: undefined };
  if (participants === 3) return { maxHeight: 720, maxBitrate: 1_500_000 };
  if (participants === 4) return { maxHeight: 540, maxBitrate: 1_000_000 };
  return { maxHeight: 360, maxBitrate: Math.floor(3_000_000 / (participants - 1)) };
}

/**
 * Scales every video sender down to at most `maxHeight` pixels high (Infinity: the camera's
 * own size) and caps its bitrate at `maxBitrate` (undefined: no cap). A browser that refuses
 * sends at full size: a slower first frame, nothing broken.
 */
export async function limitVideoHeight(senders: readonly VideoSender[], maxHeight: number, maxBitrate?: number): Promise<void> {
  await Promise.all(
    senders.map(async (sender) => {
      const track = sender.track;
      if (track?.kind !== "video" || typeof sender.setParameters !== "function") return;
      const height = track.getSettings().height ?? 0;
      const scale = height > maxHeight ? height / maxHeight : 1;
      const parameters = sender.getParameters();
      const encoding = parameters.encodings[0];
      if (!encoding || ((encoding.scaleResolutionDownBy ?? 1) === scale && encoding.maxBitrate === maxBitrate)) return;
      encoding.scaleResolutionDownBy = scale;
      if (maxBitrate === undefined) delete encoding.maxBitrate;
      else encoding.maxBitrate = maxBitrate;
      try {
        await sender.setParameters(parameters);
      } catch {
        // Refused (or raced by another change): the frames go out as the browser chooses.
      }
    }),
  );
}
