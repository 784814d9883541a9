import type { Page } from "@playwright/test";
import { expect, test as turnTest } from "./turn-fixtures.js";

// The pre-call check's tests share this: a real coturn that the server hands out (GET
// /ice-servers) as STUN server and TURN relay, and Chromium's fake camera and microphone.

interface PrecallFixtures {
  /** The server mints TURN credentials with a secret coturn does not know. */
  wrongTurnSecret: boolean;
}

export const test = turnTest.extend<object, PrecallFixtures>({
  wrongTurnSecret: [false, { scope: "worker", option: true }],
  // Unlike a call through TURN (turn-fixtures), every path is allowed and coturn is also the
  // STUN server: the check probes each.
  serverEnv: [
    async ({ turn, wrongTurnSecret }, use) =>
      use({
        ICE_SERVERS: `stun:127.0.0.1:${turn.port}`,
        TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp`,
        TURN_SECRET: wrongTurnSecret ? "not-coturns-secret" : turn.secret,
      }),
    { scope: "worker" },
  ],
});

declare global {
  /** Every stream getUserMedia returned in this page, oldest first (see recordStreams). */
  var openedStreams: MediaStream[];
}

/** Records what getUserMedia hands out, to see which camera and microphone tracks are still live. */
export function recordStreams() {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.openedStreams = [];
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await original(constraints);
    window.openedStreams.push(stream);
    return stream;
  };
}

export async function openCheck(page: Page) {
  await page.getByRole("button", { name: "Check camera and network" }).click();
  return page.getByRole("region", { name: "Camera and network check" });
}

export const meterValue = (page: Page) =>
  page.getByRole("meter", { name: "Microphone level" }).evaluate((meter) => Number(meter.getAttribute("aria-valuenow") ?? "0"));

export const networkResult = (page: Page) => page.getByRole("status").filter({ hasText: /^Network:/ });

export { expect };
