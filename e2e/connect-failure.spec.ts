import { call, join } from "./helpers.js";
import { expect, test } from "./turn-fixtures.js";

// The issue as reported: relay-only, and TURN_SECRET is not coturn's, so every allocation is
// refused (401) and gathering ends without a candidate.
test.use({ turnSetup: { transport: "udp", wrongSecret: true } });

test("a call that cannot connect: both sides are told why at once, and the server ends the call and logs it", async ({ openUser, server }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  const started = Date.now();
  const because = "the relay server refused the credentials.";
  await expect(alice.getByRole("alert").filter({ hasText: `Could not connect to bob: ${because}` })).toBeVisible();
  await expect(bob.getByRole("alert").filter({ hasText: `Could not connect the call from alice: ${because}` })).toBeVisible();
  // Gathering ended without a candidate: nobody waits for the connect timeout.
  expect(Date.now() - started).toBeLessThan(5_000);
  await expect(bob.getByRole("dialog")).toBeHidden();
  const logged = () => server.logs.filter((line) => line.includes("call could not connect")).length;
  await expect.poll(logged).toBe(1);
  // The server's call is over: calling again starts a new call (not "already in a call" or
  // "busy"), which fails the same way.
  await call(alice, "bob");
  await expect.poll(logged).toBe(2);
  await expect(alice.getByRole("alert").filter({ hasText: `Could not connect to bob: ${because}` })).toBeVisible();
});
