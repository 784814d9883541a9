import { expect, relayedCall, test } from "./turn-fixtures.js";
import { expectBitrateBothWays, expectQualityIndicator, openStats } from "./stats-helpers.js";

// Relay-only (turn-fixtures.ts): the statistics say the call goes through TURN.
test("in a call relayed through TURN the statistics panel says so, with live bitrate both ways", async ({ openUser }) => {
  test.setTimeout(120_000);
  const alice = await openUser();
  const bob = await openUser();
  await relayedCall(alice, bob, "udp");
  for (const [page, other] of [[alice, "bob"], [bob, "alice"]] as const) {
    await expectQualityIndicator(page, other);
    const panel = await openStats(page);
    await expectBitrateBothWays(page);
    await expect(panel.getByText("Relayed (TURN)", { exact: true })).toBeVisible();
    await expect(panel.getByText("over UDP")).toBeVisible();
    await expect(panel.getByText("Direct", { exact: true })).toBeHidden();
  }
});
