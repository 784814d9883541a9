import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, incomingDialog, invite, people, videoBitrateCaps } from "./helpers.js";

/*
 * The group-call scenarios, run as they are on one node (group.spec.ts, group-full.spec.ts)
 * and through nginx over three cluster nodes on Redis (group-cluster.spec.ts).
 */

/** Opens a page for a user on the app (at `url`, else the test's server). */
export type OpenUser = (options: { smallVideo: boolean; url?: string }) => Promise<Page>;

export interface GroupScenario {
  title: string;
  /** Runs the scenario; `url` points every page at it (the balancer, in cluster mode). */
  run(openUser: OpenUser, url?: string): Promise<void>;
}

/** Scenarios for a server with the default MAX_CALL_PARTICIPANTS (6). */
export const GROUP_SCENARIOS: GroupScenario[] = [
  {
    title: "three people, then four: everyone decodes everyone; one leaves and the others keep their frames; the last but one ends it",
    async run(openUser, url) {
      test.setTimeout(240_000);
      const [alice, bob, carol, dave] = (await people(withUrl(openUser, url), "alice", "bob", "carol", "dave")) as [Page, Page, Page, Page];
      await connect(alice, "alice", bob, "bob");
      await expect(alice.getByRole("figure")).toHaveCount(1);

      await invite(alice, "carol");
      await expect(alice.getByText("Ringing carol…")).toBeVisible();
      await acceptInvitation(carol, "alice", "bob");
      await expect(bob.getByRole("status").filter({ hasText: "carol joined." })).toBeVisible();
      await expectFramesFromEveryone(alice, ["bob", "carol"]);
      await expectFramesFromEveryone(bob, ["alice", "carol"]);
      await expectFramesFromEveryone(carol, ["alice", "bob"]);
      // Chromium's fake microphone beeps: whoever is heard gets their tile lit.
      await expect(alice.locator('figure[data-speaking="true"]').first()).toBeVisible();

      // Anyone in the call may add someone: bob adds dave.
      await invite(bob, "dave");
      await acceptInvitation(dave, "bob", "alice and carol");
      await expectFramesFromEveryone(alice, ["bob", "carol", "dave"]);
      await expectFramesFromEveryone(bob, ["alice", "carol", "dave"]);
      await expectFramesFromEveryone(carol, ["alice", "bob", "dave"]);
      await expectFramesFromEveryone(dave, ["alice", "bob", "carol"]);
      // Each sender's uplink is capped by the call's size (meshVideoLimit): 1 Mbit/s per copy with four.
      await expect.poll(() => videoBitrateCaps(alice)).toEqual([1_000_000, 1_000_000, 1_000_000]);

      await carol.getByRole("button", { name: "Hang up" }).click();
      await expect(carol.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
      for (const page of [alice, bob, dave]) await expect(page.getByRole("status").filter({ hasText: "carol left." })).toBeVisible();
      await expectFramesFromEveryone(alice, ["bob", "dave"]);
      await expectFramesFromEveryone(bob, ["alice", "dave"]);
      await expectFramesFromEveryone(dave, ["alice", "bob"]);
      await expect.poll(() => videoBitrateCaps(alice)).toEqual([1_500_000, 1_500_000]);

      await dave.getByRole("button", { name: "Hang up" }).click();
      await bob.getByRole("button", { name: "Hang up" }).click();
      // alice is the last one left: the call ends for her too.
      await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
      await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
    },
  },
  {
    title: "two people add the same person at the same moment: they are rung once, and join",
    async run(openUser, url) {
      test.setTimeout(120_000);
      const [alice, bob, carol] = (await people(withUrl(openUser, url), "alice", "bob", "carol")) as [Page, Page, Page];
      await connect(alice, "alice", bob, "bob");
      for (const page of [alice, bob]) {
        await page.getByRole("button", { name: "Add person" }).click();
        await page.getByRole("textbox", { name: "Person to add" }).fill("carol");
      }
      await Promise.all([alice, bob].map((page) => page.getByRole("button", { name: "Invite", exact: true }).click()));
      // One invitation wins; the other inviter is told who got there first.
      const refused = async () =>
        (await alice.getByText("carol is already being invited by bob").count()) + (await bob.getByText("carol is already being invited by alice").count());
      await expect.poll(refused).toBe(1);
      await expect(carol.getByRole("dialog")).toHaveCount(1);
      await carol.getByRole("button", { name: "Accept" }).click();
      await expectFramesFromEveryone(carol, ["alice", "bob"]);
      await expectFramesFromEveryone(alice, ["bob", "carol"]);
      await expectFramesFromEveryone(bob, ["alice", "carol"]);
    },
  },
  {
    title: "a participant’s tab goes away: the others see them leave and keep their frames",
    async run(openUser, url) {
      test.setTimeout(120_000);
      const [alice, bob, carol] = (await people(withUrl(openUser, url), "alice", "bob", "carol")) as [Page, Page, Page];
      await connect(alice, "alice", bob, "bob");
      await invite(alice, "carol");
      await acceptInvitation(carol, "alice", "bob");
      await expectFramesFromEveryone(alice, ["bob", "carol"]);
      await expectFramesFromEveryone(bob, ["alice", "carol"]);
      await carol.context().close();
      for (const page of [alice, bob]) await expect(page.getByText("carol left.")).toBeVisible();
      await expectFramesFromEveryone(alice, ["bob"]);
      await expectFramesFromEveryone(bob, ["alice"]);
    },
  },
];

/** The scenario for a server whose calls hold at most three people (MAX_CALL_PARTICIPANTS=3). */
export const FULL_CALL_SCENARIO: GroupScenario = {
  title: "a declined invitation is told to the inviter and the call goes on; adding one too many is refused",
  async run(openUser, url) {
    test.setTimeout(120_000);
    const [alice, bob, carol, dave] = (await people(withUrl(openUser, url), "alice", "bob", "carol", "dave")) as [Page, Page, Page, Page];
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
  },
};

function withUrl(openUser: OpenUser, url: string | undefined): (options: { smallVideo: boolean }) => Promise<Page> {
  return (options) => openUser(url ? { ...options, url } : options);
}
