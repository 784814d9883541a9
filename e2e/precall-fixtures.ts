import type { Page } from "@playwright/test";
import { freePorts } from "./fixtures.js";
import { expect, test as turnTest } from "./turn-fixtures.js";

// The pre-call check's tests share this: a real coturn that the server hands out (GET
// /ice-servers) as STUN server and TURN relay, and Chromium's fake camera and microphone.

interface PrecallFixtures {
  /**
   * What the server hands out: coturn as STUN and TURN server; the same with TURN credentials
   * minted with a secret coturn does not know; or only a STUN server where nothing listens.
   */
  servers: "coturn" | "wrong-turn-secret" | "unreachable-stun";
}

export const test = turnTest.extend<object, PrecallFixtures>({
  servers: ["coturn", { scope: "worker", option: true }],
  // Unlike a call through TURN (turn-fixtures), every path is allowed and coturn is also the
  // STUN server: the check probes each.
  serverEnv: [
    async ({ turn, servers }, use) => {
      if (servers === "unreachable-stun") {
        const [closed] = await freePorts(1);
        return use({ ICE_SERVERS: `stun:127.0.0.1:${closed}` });
      }
      await use({
        ICE_SERVERS: `stun:127.0.0.1:${turn.port}`,
        TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp`,
        TURN_SECRET: servers === "wrong-turn-secret" ? "not-coturns-secret" : turn.secret,
      });
    },
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
