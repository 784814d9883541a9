import { call, incomingDialog, join } from "./helpers.js";
import { expect, test } from "./turn-fixtures.js";

// Every candidate gathers (coturn grants the relays) but no check ever succeeds (coturn relays
// nothing between the two browsers): only the connect timeout, 3 s here, can end the call.
const CONNECT_TIMEOUT_MS = 3_000;
test.use({ turnSetup: { transport: "udp", relayBlocked: true, env: { CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) } } });

test("checks that never succeed end the call at the server's connect timeout after Accept, on both sides, with the reason", async ({
  openUser,
  server,
}) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  const accept = incomingDialog(bob, "alice").getByRole("button", { name: "Accept" });
  await expect(accept).toBeVisible();
  const accepted = Date.now(); // both timers start after this: on Accept, and on its answer
  await accept.click();
  await expect(alice.getByRole("status").filter({ hasText: "Connecting to bob…" })).toBeVisible();
  const because = "no network path between you.";
  await expect(alice.getByRole("alert").filter({ hasText: `Could not connect to bob: ${because}` })).toBeVisible();
  await expect(bob.getByRole("alert").filter({ hasText: `Could not connect the call from alice: ${because}` })).toBeVisible();
  // Not before the timeout (something else ended it), and not much after.
  expect(Date.now() - accepted).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS);
  expect(Date.now() - accepted).toBeLessThan(CONNECT_TIMEOUT_MS + 5_000);
  await expect.poll(() => server.logs.filter((line) => line.includes("call could not connect")).length).toBe(1);
});
