import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, invite, join, people } from "./helpers.js";
import { expectBitrateBothWays, expectQualityIndicator, openStats } from "./stats-helpers.js";

test("in a call the statistics panel shows live bitrate both ways and a direct path; each tile grades its connection", async ({
  openUser,
}) => {
  // Two pages each open the panel and watch it for a while: on two busy cores that outlasts 60 s.
  test.setTimeout(120_000);
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");

  for (const [page, other] of [[alice, "bob"], [bob, "alice"]] as const) {
    await expectQualityIndicator(page, other);
    const panel = await openStats(page);
    await expect(page.getByRole("button", { name: "Call statistics", exact: true })).toHaveAttribute("aria-expanded", "true");
    await expectBitrateBothWays(page);
    await expect(panel.getByText("Direct", { exact: true })).toBeVisible();
    for (const figure of ["Round-trip time", "Packet loss", "Frame rate"]) {
      await expect(panel.getByRole("group", { name: figure })).toContainText(/\d/);
    }
    await expect(panel.getByText(/in \d+×\d+ · out \d+×\d+/)).toBeVisible();
  }

  // The graphs grow as seconds pass.
  const points = () => alice.getByRole("region", { name: "Call statistics" }).locator("polyline").first().getAttribute("points");
  const before = ((await points()) ?? "").split(" ").length;
  await expect.poll(async () => ((await points()) ?? "").split(" ").length).toBeGreaterThan(before);

  // Hidden again with its own button or Escape.
  await alice.getByRole("button", { name: "Hide statistics" }).click();
  await expect(alice.getByRole("region", { name: "Call statistics" })).toBeHidden();
  await bob.getByRole("region", { name: "Call statistics" }).getByRole("button", { name: "Hide statistics" }).press("Escape");
  await expect(bob.getByRole("region", { name: "Call statistics" })).toBeHidden();
  await expect(bob.getByRole("button", { name: "Call statistics", exact: true })).toBeFocused();
});

test("in a group call the panel has a tab per participant, each with its own numbers, and every tile its indicator", async ({ openUser }) => {
  test.setTimeout(120_000);
  const [alice, bob, carol] = (await people(openUser, "alice", "bob", "carol")) as [Page, Page, Page];
  await connect(alice, "alice", bob, "bob");
  await invite(alice, "carol");
  await acceptInvitation(carol, "alice", "bob");
  await expectFramesFromEveryone(alice, ["bob", "carol"]);

  await expectQualityIndicator(alice, "bob");
  await expectQualityIndicator(alice, "carol");
  const panel = await openStats(alice);
  const tabs = panel.getByRole("tab");
  await expect(tabs).toHaveText(["bob", "carol"]);
  await expect(panel.getByRole("tab", { name: "bob" })).toHaveAttribute("aria-selected", "true");
  await expectBitrateBothWays(alice);
  // The arrow key moves to carol's tab, and her connection's numbers show.
  await panel.getByRole("tab", { name: "bob" }).press("ArrowRight");
  await expect(panel.getByRole("tab", { name: "carol" })).toHaveAttribute("aria-selected", "true");
  await expect(panel.getByRole("tab", { name: "carol" })).toBeFocused();
  await expect(panel.getByRole("tabpanel", { name: "carol" })).toBeVisible();
  await expectBitrateBothWays(alice);
  await expect(panel.getByText("Direct", { exact: true })).toBeVisible();
});
