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
 * Scales every video sender down to at most `maxHeight` pixels high (Infinity: the camera's
 * own size). A browser that refuses sends at full size: a slower first frame, nothing broken.
 */
export async function limitVideoHeight(senders: readonly VideoSender[], maxHeight: number): Promise<void> {
  await Promise.all(
    senders.map(async (sender) => {
      const track = sender.track;
      if (track?.kind !== "video" || typeof sender.setParameters !== "function") return;
      const height = track.getSettings().height ?? 0;
      const scale = height > maxHeight ? height / maxHeight : 1;
      const parameters = sender.getParameters();
      const encoding = parameters.encodings[0];
      if (!encoding || (encoding.scaleResolutionDownBy ?? 1) === scale) return;
      encoding.scaleResolutionDownBy = scale;
      try {
        await sender.setParameters(parameters);
      } catch {
        // Refused (or raced by another change): the frames go out as the browser chooses.
      }
    }),
  );
}
