import { expect, relayedCall, test } from "./turn-fixtures.js";

// A relayed call whose TURN server goes away mid-call: the ICE restart cannot reconnect.
test.use({ turnSetup: { transport: "udp" } });

test("a relayed call whose TURN server dies: the restart cannot reconnect, and both sides are told so instead of 'Reconnecting…' forever", async ({
  openUser,
  turn,
}) => {
  const alice = await openUser();
  const bob = await openUser();
  await relayedCall(alice, bob, "udp");
  await turn.stop();
  // Consent checks notice the loss within seconds; the restart then gathers nothing (or gets
  // no answer) and gives up at the latest CONNECT_TIMEOUT_MS (15 s) after the loss.
  const ended = { timeout: 40_000 };
  await expect(alice.getByRole("alert").filter({ hasText: /^Connection lost with bob: could not reconnect \(/ })).toBeVisible(ended);
  await expect(bob.getByRole("alert").filter({ hasText: /^Connection lost with alice: could not reconnect \(/ })).toBeVisible(ended);
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
  await expect(bob.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
});
