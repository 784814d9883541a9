import { expect, test } from "./fixtures.js";
import { call, connect, incomingDialog, join } from "./helpers.js";

// A server of its own with short timeouts (a worker-scoped option: a fresh worker starts it).
test.use({ serverEnv: { RING_TIMEOUT_MS: "2500", SESSION_GRACE_MS: "2000", HEARTBEAT_MS: "1000" } });

test("an unanswered call ends as no answer on both sides", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  await expect(incomingDialog(bob, "alice")).toBeVisible();
  await expect(alice.getByRole("alert").filter({ hasText: "bob didn't answer." })).toBeVisible();
  await expect(bob.getByRole("alert").filter({ hasText: "Missed call from alice." })).toBeVisible();
  await expect(incomingDialog(bob, "alice")).toBeHidden();
});

test("a peer that vanishes without a goodbye (crashed tab) ends the call as connection lost", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  // Crash bob's renderer: no unload handlers run and no goodbye is sent.
  const cdp = await bob.context().newCDPSession(bob);
  // The reply never comes (the page is gone), so do not wait for it.
  void cdp.send("Page.crash").catch(() => undefined);
  await expect(alice.getByRole("alert").filter({ hasText: "Connection lost with bob." })).toBeVisible();
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
});
