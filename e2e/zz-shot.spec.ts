import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, invite, people } from "./helpers.js";

test("screenshot", async ({ openUser }) => {
  test.setTimeout(150_000);
  const [alice, bob, carol, dave] = (await people(openUser, "alice", "bob", "carol", "dave")) as [Page, Page, Page, Page];
  await connect(alice, "alice", bob, "bob");
  await invite(alice, "carol");
  await acceptInvitation(carol, "alice", "bob");
  await invite(bob, "dave");
  await acceptInvitation(dave, "bob", "alice and carol");
  await expectFramesFromEveryone(alice, ["bob", "carol", "dave"]);
  await alice.setViewportSize({ width: 1280, height: 800 });
  await bob.getByRole("button", { name: "Mute microphone" }).click();
  await expect(alice.getByText("bob is muted")).toBeVisible();
  await alice.waitForTimeout(1500);
  await alice.screenshot({ path: "/tmp/group-desktop.png" });
  await alice.setViewportSize({ width: 375, height: 812 });
  await alice.waitForTimeout(800);
  await alice.screenshot({ path: "/tmp/group-phone.png" });
  await alice.setViewportSize({ width: 1280, height: 800 });
  await invite(alice, "erin");
  await alice.waitForTimeout(800);
  await alice.screenshot({ path: "/tmp/group-add.png" });
});
