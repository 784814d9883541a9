import { expect, type Locator, type Page } from "@playwright/test";

// Device switching and screen sharing (e2e/devices.spec.ts, e2e/screenshare.spec.ts).

declare global {
  /** In pages with `canvasCamera`: the id of the canvas camera's latest track (undefined until opened). */
  var canvasCameraTrackId: string | undefined;
  /** In pages with `canvasCamera`: the canvas camera is unplugged (its track ends, it is no longer listed). */
  function unplugCanvasCamera(): void;
}

/** The deviceId of the second camera `canvasCamera` adds. */
export const CANVAS_CAMERA = "canvas-camera";

/**
 * Chromium's fake devices have one camera. This init script adds a second, "Canvas camera":
 * listed by enumerateDevices, and getUserMedia for its deviceId gives a track captured from a
 * canvas that changes colour and counts frames. `unplugCanvasCamera()` unplugs it as a USB
 * camera would go: its track ends, it leaves the list and `devicechange` fires.
 */
export function canvasCamera() {
  const mediaDevices = navigator.mediaDevices;
  const enumerate = mediaDevices.enumerateDevices.bind(mediaDevices);
  const getUserMedia = mediaDevices.getUserMedia.bind(mediaDevices);
  const id = "canvas-camera";
  let plugged = true;
  let live: MediaStreamTrack | undefined;
  mediaDevices.enumerateDevices = async () => {
    const listed = await enumerate();
    if (!plugged) return listed;
    const device = { deviceId: id, groupId: "canvas", kind: "videoinput", label: "Canvas camera" } as const;
    return [...listed, { ...device, toJSON: () => device } as MediaDeviceInfo];
  };
  mediaDevices.getUserMedia = async (constraints) => {
    const video = constraints?.video;
    const wanted = typeof video === "object" ? video.deviceId : undefined;
    const wantedId = typeof wanted === "object" && !Array.isArray(wanted) ? wanted.exact : wanted;
    if (wantedId !== id) return getUserMedia(constraints);
    if (!plugged) throw new DOMException("Requested device not found", "NotFoundError");
    const canvas = document.createElement("canvas");
    // 4:3, where the fake camera is 16:9: the receiver tells them apart whatever size it decodes.
    canvas.width = 480;
    canvas.height = 360;
    const context = canvas.getContext("2d")!;
    let frame = 0;
    const draw = setInterval(() => {
      frame += 1;
      context.fillStyle = `hsl(${(frame * 7) % 360} 60% 45%)`;
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.fillStyle = "white";
      context.font = "40px sans-serif";
      context.fillText(`Canvas camera ${frame}`, 40, 190);
    }, 50);
    const track = canvas.captureStream(20).getVideoTracks()[0]!;
    track.addEventListener("ended", () => clearInterval(draw));
    const settings = track.getSettings.bind(track);
    track.getSettings = () => ({ ...settings(), deviceId: id });
    live = track;
    window.canvasCameraTrackId = track.id;
    const stream = new MediaStream([track]);
    if (constraints?.audio) for (const audio of (await getUserMedia({ audio: constraints.audio })).getAudioTracks()) stream.addTrack(audio);
    return stream;
  };
  window.unplugCanvasCamera = () => {
    plugged = false;
    live?.stop(); // stop() fires no `ended`; an unplugged device's track does
    live?.dispatchEvent(new Event("ended"));
    mediaDevices.dispatchEvent(new Event("devicechange"));
  };
}

/** The track the live peer connection (the newest; `index` picks another) sends for `kind`: its id, label, state and device. */
export function sentTrack(page: Page, kind: "audio" | "video") {
  return page.evaluate((k) => {
    const sender = livePeerConnection()
      .getSenders()
      .find((s) => s.track?.kind === k && !s.track.label.startsWith("screen"));
    const track = sender?.track;
    return track ? { id: track.id, label: track.label, enabled: track.enabled, state: track.readyState, deviceId: track.getSettings().deviceId } : undefined;
  }, kind);
}

/** The tracks of `kind` every live peer connection of the page sends (one per other participant). */
export function sentTrackIds(page: Page, kind: "audio" | "video"): Promise<(string | undefined)[]> {
  return page.evaluate((k) => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    return pcs
      .filter((pc) => pc.connectionState !== "closed")
      .map((pc) => pc.getSenders().find((s) => s.track?.kind === k && !s.track.label.startsWith("screen"))?.track?.id);
  }, kind);
}

/** Video frames decoded, and the frames' aspect ratio (width / height, 2 decimals), per inbound video stream of the page's live connections. */
export function inboundVideo(page: Page): Promise<{ trackIdentifier: string; framesDecoded: number; aspect: number }[]> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    const found: { trackIdentifier: string; framesDecoded: number; aspect: number }[] = [];
    for (const pc of pcs) {
      if (pc.connectionState === "closed") continue;
      type Entry = { type: string; kind?: string; trackIdentifier?: string; framesDecoded?: number; frameWidth?: number; frameHeight?: number };
      (await pc.getStats()).forEach((entry: Entry) => {
        if (entry.type !== "inbound-rtp" || entry.kind !== "video") return;
        const aspect = entry.frameWidth && entry.frameHeight ? Math.round((entry.frameWidth / entry.frameHeight) * 100) / 100 : 0;
        found.push({ trackIdentifier: entry.trackIdentifier ?? "", framesDecoded: entry.framesDecoded ?? 0, aspect });
      });
    }
    return found;
  });
}

/** Frames decoded so far from the track `video` (a <video> locator) shows. */
export async function framesOf(video: Locator): Promise<number> {
  const trackId = await video.evaluate((element) => {
    const stream = (element as HTMLVideoElement).srcObject;
    return stream instanceof MediaStream ? stream.getVideoTracks()[0]?.id : undefined;
  });
  if (!trackId) return 0;
  return (await inboundVideo(video.page())).find((s) => s.trackIdentifier === trackId)?.framesDecoded ?? 0;
}

/** The decoded frames from the track `video` (a <video> locator) shows keep rising. */
export async function expectFramesRising(video: Locator): Promise<void> {
  await expect.poll(() => framesOf(video), { timeout: 30_000 }).toBeGreaterThan(0);
  const before = await framesOf(video);
  await expect.poll(() => framesOf(video), { timeout: 30_000 }).toBeGreaterThan(before + 5);
}

/** The page's remote descriptions, one per live connection, to tell whether anything renegotiated. */
export function remoteDescriptions(page: Page): Promise<(string | undefined)[]> {
  return page.evaluate(() => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    return pcs.filter((pc) => pc.connectionState !== "closed").map((pc) => pc.remoteDescription?.sdp);
  });
}

export async function openSettings(page: Page) {
  await page.getByRole("button", { name: "Settings" }).click();
  const dialog = page.getByRole("dialog", { name: "Settings" });
  await expect(dialog).toBeVisible();
  return dialog;
}
