/** The camera and microphone the user picked, kept for the next visit. */
export interface DeviceChoice {
  cameraId?: string;
  microphoneId?: string;
}

const STORAGE_KEY = "peertobeer.devices";

/** The stored choice; nothing (never an error) when storage is empty, unavailable or garbled. */
export function loadDeviceChoice(): DeviceChoice {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}");
    if (typeof parsed !== "object" || parsed === null) return {};
    const { cameraId, microphoneId } = parsed as Record<string, unknown>;
    return {
      ...(typeof cameraId === "string" && cameraId !== "" && { cameraId }),
      ...(typeof microphoneId === "string" && microphoneId !== "" && { microphoneId }),
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
