import { expect, test } from "./fixtures.js";
import { call, connect, expectMediaFlowing, incomingDialog, join, remoteUfrag } from "./helpers.js";

test("the caller cancels while it rings: the callee's dialog goes and says who called", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  await expect(incomingDialog(bob, "alice")).toBeVisible();
  await alice.getByRole("button", { name: "Cancel" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "Call to bob canceled." })).toBeVisible();
  await expect(incomingDialog(bob, "alice")).toBeHidden();
  await expect(bob.getByRole("alert").filter({ hasText: "Missed call from alice." })).toBeVisible();
});

test("a third user calling someone in a call hears busy; the call goes on", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  const carol = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await join(carol, "carol");
  await connect(alice, "alice", bob, "bob");
  await call(carol, "bob");
  await expect(carol.getByRole("alert").filter({ hasText: "bob is busy in another call." })).toBeVisible();
  await expect(incomingDialog(bob, "carol")).toBeHidden();
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
});

test("closing the other tab mid-call ends the call for the one left", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  // As a person closes a tab: unload handlers run.
  await bob.close({ runBeforeUnload: true });
  await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
});

test("when both call each other at the same moment, exactly one call results and it connects", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await alice.getByRole("textbox", { name: "Recipient ID" }).fill("bob");
  await bob.getByRole("textbox", { name: "Recipient ID" }).fill("alice");
  await Promise.all([
    alice.getByRole("button", { name: "Call", exact: true }).click(),
    bob.getByRole("button", { name: "Call", exact: true }).click(),
  ]);
  await expect(alice.getByRole("button", { name: "Hang up" })).toBeVisible();
  await expect(bob.getByRole("button", { name: "Hang up" })).toBeVisible();
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  // One call: each page holds exactly one live peer connection.
  const live = (page: typeof alice) =>
    page.evaluate(
      () =>
        (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections.filter(
          (pc) => pc.connectionState !== "closed",
        ).length,
    );
  expect(await live(alice)).toBe(1);
  expect(await live(bob)).toBe(1);
});

test("both sides renegotiate at the same moment (ICE restart glare): perfect negotiation keeps the call", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  const before = await Promise.all([remoteUfrag(alice), remoteUfrag(bob)]);
  // Both offer at once: the offers cross in flight and the polite side (the callee) yields.
  await Promise.all([alice.evaluate(() => livePeerConnection().restartIce()), bob.evaluate(() => livePeerConnection().restartIce())]);
  await expect.poll(() => remoteUfrag(alice)).not.toBe(before[0]);
  await expect.poll(() => remoteUfrag(bob)).not.toBe(before[1]);
  await expect.poll(() => alice.evaluate(() => livePeerConnection().signalingState)).toBe("stable");
  await expect.poll(() => bob.evaluate(() => livePeerConnection().signalingState)).toBe("stable");
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  await expect(alice.getByRole("button", { name: "Hang up" })).toBeVisible();
  await expect(bob.getByRole("button", { name: "Hang up" })).toBeVisible();
});

test("the callee's tab closed right after Accept: the caller hears that bob left, not that the network failed", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  await incomingDialog(bob, "alice").getByRole("button", { name: "Accept" }).click();
  // As a person closes a tab: unload handlers run. The call is still connecting.
  await bob.close({ runBeforeUnload: true });
  const notice = alice.getByRole("alert").or(alice.getByRole("status")).filter({ hasText: /bob/ });
  await expect(notice).toHaveText(/^(bob hung up\.|bob left\.|Connection lost with bob\.)/);
  await expect(alice.getByText(/Could not connect/)).toHaveCount(0);
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
});
