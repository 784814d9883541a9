import { expect, test as base } from "./fixtures.js";
import { connect, expectMediaFlowing, join } from "./helpers.js";
import { startTurn, type TurnServer } from "./turn.js";

// Every path but the TURN relay is closed to the browsers (ICE_TRANSPORT_POLICY=relay), as
// for two users behind symmetric NATs: the call connects only if TURN works end to end.
const test = base.extend<object, { turn: TurnServer }>({
  turn: [
    async ({}, use) => {
      const turn = await startTurn();
      await use(turn);
      await turn.stop();
    },
    { scope: "worker" },
  ],
  serverEnv: [
    async ({ turn }, use) =>
      use({
        ICE_SERVERS: "",
        TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp`,
        TURN_SECRET: turn.secret,
        ICE_TRANSPORT_POLICY: "relay",
      }),
    { scope: "worker" },
  ],
});

/** The candidate types of the pair the page's live peer connection uses. */
function selectedPair(page: import("@playwright/test").Page) {
  return page.evaluate(async () => {
    const stats = await livePeerConnection().getStats();
    let local: string | undefined;
    let remote: string | undefined;
    stats.forEach((entry: { type: string; nominated?: boolean; state?: string; localCandidateId?: string; remoteCandidateId?: string }) => {
      if (entry.type !== "candidate-pair" || !entry.nominated || entry.state !== "succeeded") return;
      local = (stats.get(entry.localCandidateId ?? "") as { candidateType?: string } | undefined)?.candidateType;
      remote = (stats.get(entry.remoteCandidateId ?? "") as { candidateType?: string } | undefined)?.candidateType;
    });
    return { local, remote };
  });
}

test("with only the TURN relay allowed, the call connects through coturn with credentials minted per session", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  expect(await selectedPair(alice)).toEqual({ local: "relay", remote: "relay" });
  expect(await selectedPair(bob)).toEqual({ local: "relay", remote: "relay" });
});
