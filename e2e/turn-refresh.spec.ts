import { expectMediaFlowing, inboundStats, remoteUfrag } from "./helpers.js";
import { expect, relayedCall, selectedPair, test, turnUsername } from "./turn-fixtures.js";

// TURN credentials far shorter-lived than the call (a day by default; a call can outlast one).
const TTL_S = 4;
test.use({ turnSetup: { transport: "udp", env: { TURN_CREDENTIAL_TTL_S: String(TTL_S) } } });

test("a relayed call outlives its TURN credentials: fresh ones arrive before they expire, media keeps flowing, and an ICE restart allocates with them", async ({
  openUser,
}) => {
  const alice = await openUser();
  const bob = await openUser();
  await relayedCall(alice, bob, "udp");
  const expiryOf = (username: string | undefined) => Number(username?.split(":")[0]);
  const first = await turnUsername(alice);
  // Fresh credentials reach the live call, minted (TTL_S before their own expiry) while the
  // first ones were still good...
  await expect.poll(() => turnUsername(alice)).not.toBe(first);
  const second = await turnUsername(alice);
  expect(expiryOf(second) - TTL_S).toBeLessThan(expiryOf(first));
  const firstExpiryMs = expiryOf(first) * 1000;
  // ...and again half a TTL later, by when the first have run out: the call lives on past their
  // expiry, media rising both ways.
  await expect.poll(() => turnUsername(alice)).not.toBe(second);
  expect(Date.now()).toBeGreaterThanOrEqual(firstExpiryMs);
  expect(await turnUsername(bob)).toMatch(/^\d+:bob$/);
  await expect.poll(() => turnUsername(bob)).not.toBe(await turnUsername(bob));
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  // A restart needs new allocations, which coturn grants only to unexpired credentials.
  const ufrag = await remoteUfrag(bob);
  await alice.evaluate(() => livePeerConnection().restartIce());
  await expect.poll(() => remoteUfrag(bob)).not.toBe(ufrag);
  const before = await inboundStats(bob);
  await expect.poll(async () => (await inboundStats(bob)).framesDecoded).toBeGreaterThan(before.framesDecoded + 5);
  await expectMediaFlowing(alice);
  await expect.poll(() => selectedPair(alice)).toMatchObject({ local: "relay", remote: "relay" });
  await expect(alice.getByRole("button", { name: "Hang up" })).toBeVisible();
});
