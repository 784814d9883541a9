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

/** Opens camera and microphone; a refusal is reported, never thrown: calls still work without. */
export async function openLocalMedia(): Promise<LocalMedia> {
  if (!navigator.mediaDevices?.getUserMedia) {
    return { stream: undefined, problem: "This browser cannot use a camera here (it needs HTTPS or localhost)." };
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia(MEDIA_CONSTRAINTS);
    return { stream, problem: undefined };
  } catch (error) {
    const name = error instanceof DOMException ? error.name : "";
    const problem =
      name === "NotAllowedError" || name === "SecurityError"
        ? "Camera and microphone access was denied. You can still call and see others; allow access in the browser to be seen and heard."
        : name === "NotFoundError" || name === "OverconstrainedError"
          ? "No camera or microphone was found. You can still call and see others."
          : name === "NotReadableError"
            ? "Your camera or microphone is in use by another app."
            : "Could not open the camera or microphone.";
    return { stream: undefined, problem };
  }
}
