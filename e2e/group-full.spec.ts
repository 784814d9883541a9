import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, incomingDialog, invite, people } from "./helpers.js";

test.use({ serverEnv: { MAX_CALL_PARTICIPANTS: "3" } });

test("a declined invitation is told to the inviter and the call goes on; adding one too many is refused", async ({ openUser }) => {
  test.setTimeout(120_000);
  const [alice, bob, carol, dave] = (await people(openUser, "alice", "bob", "carol", "dave")) as [Page, Page, Page, Page];
  await connect(alice, "alice", bob, "bob");

  await invite(alice, "carol");
  await incomingDialog(carol, "alice").getByRole("button", { name: "Decline" }).click();
  await expect(alice.getByRole("alert").filter({ hasText: "carol declined." })).toBeVisible();
  await expect(alice.getByText("Ringing carol…")).toBeHidden();
  await expectFramesFromEveryone(alice, ["bob"]);
  await expectFramesFromEveryone(bob, ["alice"]);

  await invite(alice, "carol");
  await acceptInvitation(carol, "alice", "bob");
  await expectFramesFromEveryone(bob, ["alice", "carol"]);

  await invite(bob, "dave");
  await expect(bob.getByRole("alert").filter({ hasText: "Cannot add dave: the call is full." })).toBeVisible();
  await expect(dave.getByRole("dialog")).toHaveCount(0);
  await expectFramesFromEveryone(bob, ["alice", "carol"]);
});
