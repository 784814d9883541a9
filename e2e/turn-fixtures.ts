import type { Page } from "@playwright/test";
import { expect, test as base } from "./fixtures.js";
import { connect, join } from "./helpers.js";
import { startTurn, type TurnServer } from "./turn.js";

// Each spec that sets `turnSetup` (a worker option) gets a coturn, server and browser of its own.

/** How the browsers reach coturn, and what the signaling server is told. */
export interface TurnSetup {
  /** The one TURN URL the server hands out: UDP, TCP (coturn then listens on TCP only), or TLS. */
  transport: "udp" | "tcp" | "tls";
  /** The server mints credentials with a secret that is not coturn's. */
  wrongSecret?: boolean;
  /** coturn allocates relays but forwards nothing between the two browsers. */
  relayBlocked?: boolean;
  /** More server environment (e.g. a short TURN_CREDENTIAL_TTL_S). */
  env?: Record<string, string>;
}

// Every path but the TURN relay is closed to the browsers (ICE_TRANSPORT_POLICY=relay), as
// for two users behind symmetric NATs: the call connects only if TURN works end to end.
export const test = base.extend<object, { turnSetup: TurnSetup; turn: TurnServer }>({
  turnSetup: [{ transport: "udp" }, { scope: "worker", option: true }],
  turn: [
    async ({ turnSetup }, use) => {
      // TCP and TLS: as behind a firewall that drops UDP, coturn does not listen on UDP at all.
      const turn = await startTurn({
        udp: turnSetup.transport === "udp",
        tls: turnSetup.transport === "tls",
        loopbackPeers: !turnSetup.relayBlocked,
      });
      await use(turn);
      await turn.stop();
    },
    { scope: "worker" },
  ],
  serverEnv: [
    async ({ turn, turnSetup }, use) => {
      const url =
        turnSetup.transport === "tls" ? `turns:127.0.0.1:${turn.tlsPort}?transport=tcp`
        : `turn:127.0.0.1:${turn.port}?transport=${turnSetup.transport}`;
      await use({
        ICE_SERVERS: "",
        TURN_URLS: url,
        TURN_SECRET: turnSetup.wrongSecret ? "not-coturns-secret" : turn.secret,
        ICE_TRANSPORT_POLICY: "relay",
        ...turnSetup.env,
      });
    },
    { scope: "worker" },
  ],
  // Chromium refuses a TURN server's self-signed certificate (the allocation fails with 701,
  // "Failed to establish connection"); pinning its public key is how a test trusts it.
  launchOptions: [
    async ({ launchOptions, turn }, use) =>
      use(
        turn.tlsSpki
          ? { ...launchOptions, args: [...(launchOptions.args ?? []), `--ignore-certificate-errors-spki-list=${turn.tlsSpki}`] }
          : launchOptions,
      ),
    { scope: "worker" },
  ],
});

/** The pair the page's live peer connection uses: candidate types and how it reaches TURN. */
export function selectedPair(page: Page) {
  return page.evaluate(async () => {
    const stats = await livePeerConnection().getStats();
    let pair: { local?: string; remote?: string; relayProtocol?: string } = {};
    stats.forEach((entry: { type: string; nominated?: boolean; state?: string; localCandidateId?: string; remoteCandidateId?: string }) => {
      if (entry.type !== "candidate-pair" || !entry.nominated || entry.state !== "succeeded") return;
      const local = stats.get(entry.localCandidateId ?? "") as { candidateType?: string; relayProtocol?: string } | undefined;
      const remote = stats.get(entry.remoteCandidateId ?? "") as { candidateType?: string } | undefined;
      pair = { local: local?.candidateType, remote: remote?.candidateType, relayProtocol: local?.relayProtocol };
    });
    return pair;
  });
}

/** The TURN username (`<expiry>:<user>`) the page's live peer connection would allocate with now. */
export function turnUsername(page: Page): Promise<string | undefined> {
  return page.evaluate(() => livePeerConnection().getConfiguration().iceServers?.[0]?.username);
}

/** alice calls bob, media flows both ways, and both use a relay pair reaching TURN over `relayProtocol`. */
export async function relayedCall(alice: Page, bob: Page, relayProtocol: string): Promise<void> {
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  // Polled: a renegotiation right after the call started (say, the camera came late) may be
  // choosing a new pair at this moment.
  await expect.poll(() => selectedPair(alice)).toEqual({ local: "relay", remote: "relay", relayProtocol });
  await expect.poll(() => selectedPair(bob)).toEqual({ local: "relay", remote: "relay", relayProtocol });
}

export { expect };
