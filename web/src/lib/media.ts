import type { DeviceChoice } from "./devices.js";

export interface LocalMedia {
  stream: MediaStream | undefined;
  /** Shown to the user when the camera or microphone could not be opened. */
  problem: string | undefined;
}

/** What the app asks of the camera and microphone (the B4 benchmark's other pages ask the same). */
export const MEDIA_CONSTRAINTS: MediaStreamConstraints = {
  audio: { echoCancellation: true, noiseSuppression: true },
  video: { width: { ideal: 1280 }, height: { ideal: 720 } },
};

/** MEDIA_CONSTRAINTS with the chosen devices, exactly. */
export function mediaConstraints(devices: DeviceChoice = {}): MediaStreamConstraints {
  const { audio, video } = MEDIA_CONSTRAINTS as { audio: MediaTrackConstraints; video: MediaTrackConstraints };
  return {
    audio: devices.microphoneId ? { ...audio, deviceId: { exact: devices.microphoneId } } : audio,
    video: devices.cameraId ? { ...video, deviceId: { exact: devices.cameraId } } : video,
  };
}

/**
 * Opens the chosen camera and microphone; when one is gone (unplugged, or an id from another
 * machine), the default ones instead, without an error. `exact` and a second try rather than
 * `ideal`: given an ideal deviceId, Chromium opened the default microphone although the chosen
 * one was there (e2e/precall.spec.ts).
 */
export async function openMedia(devices: DeviceChoice = {}): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new DOMException("getUserMedia is unavailable", "SecurityError");
  try {
    return await navigator.mediaDevices.getUserMedia(mediaConstraints(devices));
  } catch (error) {
    const gone = error instanceof DOMException && (error.name === "OverconstrainedError" || error.name === "NotFoundError");
    if (!gone || (!devices.cameraId && !devices.microphoneId)) throw error;
    return navigator.mediaDevices.getUserMedia(MEDIA_CONSTRAINTS);
  }
}

/** Opens camera and microphone; a refusal is reported, never thrown: calls still work without. */
export async function openLocalMedia(devices: DeviceChoice = {}): Promise<LocalMedia> {
  if (!navigator.mediaDevices?.getUserMedia) {
    return { stream: undefined, problem: "This browser cannot use a camera here (it needs HTTPS or localhost)." };
  }
  try {
    return { stream: await openMedia(devices), problem: undefined };
  } catch (error) {
    return { stream: undefined, problem: mediaProblem(error) };
  }
}

/** Why getUserMedia failed, in words the user can act on. */
export function mediaProblem(error: unknown): string {
  const name = error instanceof DOMException ? error.name : "";
  return name === "NotAllowedError" || name === "SecurityError"
    ? "Camera and microphone access was denied. You can still call and see others; allow access in the browser to be seen and heard."
    : name === "NotFoundError" || name === "OverconstrainedError"
      ? "No camera or microphone was found. You can still call and see others."
      : name === "NotReadableError"
        ? "Your camera or microphone is in use by another app."
        : "Could not open the camera or microphone.";
}

/**
 * Opens one camera or microphone (`deviceId` exactly; undefined: the default one) with the
 * app's constraints, for a switch mid-call. `release` is called, and the open tried again, when
 * the device cannot be opened while the old one runs (phones' front and back cameras).
 */
export async function openTrack(kind: "audio" | "video", deviceId: string | undefined, release?: () => void): Promise<MediaStreamTrack> {
  const base = MEDIA_CONSTRAINTS[kind] as MediaTrackConstraints;
  const constraints = { [kind]: deviceId ? { ...base, deviceId: { exact: deviceId } } : base };
  const open = async () => {
    const track = (await navigator.mediaDevices.getUserMedia(constraints)).getTracks().find((t) => t.kind === kind);
    if (!track) throw new DOMException(`no ${kind} track`, "NotFoundError");
    return track;
  };
  try {
    return await open();
  } catch (error) {
    const busy = error instanceof DOMException && (error.name === "NotReadableError" || error.name === "AbortError");
    if (!busy || !release) throw error;
    release();
    return open();
  }
}

/** Whether this browser can share a screen (desktop browsers; not iOS or Android). */
export const canShareScreen = (): boolean => typeof navigator.mediaDevices?.getDisplayMedia === "function";

/**
 * Asks the user which screen, window or tab to share: video only, at most 1080p and 15 fps
 * (slides and code change little; every frame goes to each participant of a mesh).
 */
export function openScreen(): Promise<MediaStream> {
  return navigator.mediaDevices.getDisplayMedia({ video: { height: { max: 1080 }, frameRate: { max: 15 } }, audio: false });
}

/** Whether <video> can play to a chosen audio output (setSinkId). */
export const canPickSpeaker = (): boolean => typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
