import { useSyncExternalStore } from "react";
import { loadDeviceChoice } from "./devices.js";

/*
 * The audio output every remote <video> plays to (setSinkId), one for the whole app: a video
 * mounted later (someone joins) follows it too. "" is the system default.
 */
let speakerId = loadDeviceChoice().speakerId ?? "";
const listeners = new Set<() => void>();

export function setSpeaker(id: string): void {
  if (id === speakerId) return;
  speakerId = id;
  for (const listener of listeners) listener();
}

export function useSpeaker(): string {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => speakerId,
  );
}
