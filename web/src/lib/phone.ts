import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { Phone, SignalingClient, type PhoneSnapshot, type SessionStore, type StoredSession } from "@peertobeer/client";
import { useSyncExternalStore } from "react";

const STORAGE_KEY = "peertobeer.session";

/** Kept per tab, so a reload resumes the same ID and session. */
const tabStore: SessionStore = {
  load() {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    try {
      return JSON.parse(raw) as StoredSession;
    } catch {
      return undefined;
    }
  },
  save(session) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  },
  clear() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

// gRPC-Web on the page's own origin: the server serves the app and the API together.
export const signaling = new SignalingClient({
  transport: createGrpcWebTransport({
    baseUrl: window.location.origin,
    // EndCall may be sent while the page unloads; keepalive lets that request outlive the page.
    fetch: (input, init) => fetch(input, { ...init, keepalive: String(input).endsWith("/EndCall") }),
  }),
  store: tabStore,
  watchPresence: true,
});

export const phone = new Phone({ signaling, RTCPeerConnection: window.RTCPeerConnection });

// For the browser console and end-to-end tests: the live SDK objects.
Object.assign(window, { peertobeer: { signaling, phone } });

// Closing or reloading the tab hangs up: the peer hears it over the data channel at once.
window.addEventListener("pagehide", () => phone.hangUp());

export function usePhone(): PhoneSnapshot {
  return useSyncExternalStore(phone.subscribe, phone.getSnapshot);
}
