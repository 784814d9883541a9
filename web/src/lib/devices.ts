/** The camera, microphone and speaker the user picked (before or during a call), kept for the next visit. */
export interface DeviceChoice {
  cameraId?: string;
  microphoneId?: string;
  /** An audio output for setSinkId, where the browser has it. */
  speakerId?: string;
}

const STORAGE_KEY = "peertobeer.devices";

/** The stored choice; nothing (never an error) when storage is empty, unavailable or garbled. */
export function loadDeviceChoice(): DeviceChoice {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof parsed !== "object" || parsed === null) return {};
    const { cameraId, microphoneId, speakerId } = parsed as Record<string, unknown>;
    return {
      ...(typeof cameraId === "string" && cameraId !== "" && { cameraId }),
      ...(typeof microphoneId === "string" && microphoneId !== "" && { microphoneId }),
      ...(typeof speakerId === "string" && speakerId !== "" && { speakerId }),
    };
  } catch {
    return {};
  }
}

/** Merges `choice` into the stored one. Storage that refuses (private mode, quota) only forgets. */
export function saveDeviceChoice(choice: DeviceChoice): void {
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify({ ...loadDeviceChoice(), ...choice }));
  } catch {
    // Not remembering a device is no reason to interrupt anyone.
  }
}
