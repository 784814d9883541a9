import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, expectVideoPlaying, invite, people } from "./helpers.js";
import { expectFramesRising } from "./media-helpers.js";

// Screen sharing by renegotiation of the same call. getDisplayMedia works headless with the
// flags every test runs with (--use-fake-device-for-media-stream, --use-fake-ui-for-media-stream):
// Chromium's fake capture hands out a synthetic "screen:" track, no stub needed. Cameras are
// small (people()): three pages encoding a screen and cameras share two cores.

/** The region where `sharer`'s screen is shown large. */
const stage = (page: Page, sharer: string) => page.getByRole("region", { name: `${sharer}'s screen` });

/** `viewer` shows `sharer`'s screen large and decodes frames from that track, and still their camera. */
async function expectScreenFrom(viewer: Page, sharer: string): Promise<void> {
  // Generous: on two shared cores a renegotiation with a 720p screen to encode takes a while.
  await expect(stage(viewer, sharer).getByLabel("Shared screen"))
    .toBeVisible({ timeout: 30_000 })
    .catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await sessions(viewer)}`);
    });
  await expectVideoPlaying(viewer, "Shared screen");
  await expectFramesRising(stage(viewer, sharer).getByLabel("Shared screen"));
  // The screen is the big picture: wider than the sharer's camera tile beside it.
  const screenBox = await stage(viewer, sharer).boundingBox();
  const tileBox = await viewer.getByRole("figure", { name: sharer }).boundingBox();
  expect(screenBox!.width * screenBox!.height).toBeGreaterThan(2 * tileBox!.width * tileBox!.height);
}

/** What a failure should show: each live connection's transceivers, and who the page shows a screen for. */
const sessions = (page: Page) =>
  page.evaluate(() => {
    const pcs = (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections;
    const phone = (window as unknown as { peertobeer: { phone: { getSnapshot(): { call?: { participants: { userId: string; state: string; screenStream?: unknown }[] } } } } })
      .peertobeer.phone;
    const participants = phone.getSnapshot().call?.participants.map((p) => `${p.userId} ${p.state} screen=${Boolean(p.screenStream)}`);
    const links = pcs
      .filter((pc) => pc.connectionState !== "closed")
      .map((pc) => `${pc.connectionState}/${pc.signalingState}: ${pc.getTransceivers().map((t) => `${t.mid}:${t.currentDirection}`).join(" ")}`);
    return JSON.stringify({ participants, links });
  });

/** `viewer` is back to the camera view: no screen, and frames from the camera keep coming. */
async function expectCameraOnly(viewer: Page, sharer: string): Promise<void> {
  await expect(stage(viewer, sharer)).toHaveCount(0);
  await expect(viewer.getByLabel("Shared screen")).toHaveCount(0);
  await expectFramesRising(viewer.getByRole("figure", { name: sharer }).getByLabel("Remote video"));
}

/** The track `page` shares, as the SDK holds it (undefined when not sharing). */
const sharedTrack = (page: Page) =>
  page.evaluate(() => {
    const phone = (window as unknown as { peertobeer: { phone: { getSnapshot(): { localScreen?: MediaStream } } } }).peertobeer.phone;
    const track = phone.getSnapshot().localScreen?.getVideoTracks()[0];
    return track && { id: track.id, state: track.readyState };
  });

/** What the live connection sends on each video m-line: the track's label, or null for an idle one. */
const videoSenders = (page: Page) =>
  page.evaluate(() =>
    livePeerConnection()
      .getTransceivers()
      .filter((t) => t.receiver.track.kind === "video")
      .map((t) => t.sender.track?.label ?? null),
  );

test("sharing the screen in a 1:1 call: bob sees it large; stopping by the button, then by the browser's own bar, returns to the camera", async ({
  openUser,
}) => {
  const [alice, bob] = (await people(openUser, "alice", "bob")) as [Page, Page];
  await connect(alice, "alice", bob, "bob");
  const offersBefore = await bob.evaluate(() => livePeerConnection().remoteDescription?.sdp.match(/^m=video/gm)?.length);
  expect(offersBefore).toBe(1);

  await alice.getByRole("button", { name: "Share screen" }).click();
  await expect(alice.getByRole("button", { name: "Stop sharing" })).toBeVisible();
  await expect(alice.getByRole("status").filter({ hasText: "You are sharing your screen" })).toBeVisible();
  // Renegotiated on the same connection: a second video m-line carries the screen.
  await expect.poll(() => bob.evaluate(() => livePeerConnection().remoteDescription?.sdp.match(/^m=video/gm)?.length)).toBe(2);
  expect(await videoSenders(alice)).toEqual([expect.stringContaining("fake"), expect.stringMatching(/^screen/)]);
  await expectScreenFrom(bob, "alice");
  // bob's view of alice's camera goes on beside it.
  await expectVideoPlaying(bob, "Remote video");
  await expectFramesRising(bob.getByRole("figure", { name: "alice" }).getByLabel("Remote video"));

  await alice.getByRole("button", { name: "Stop sharing" }).click();
  await expect(alice.getByRole("button", { name: "Share screen" })).toBeVisible();
  await expect(alice.getByText("You are sharing your screen")).toHaveCount(0);
  await expectCameraOnly(bob, "alice");
  await expect.poll(() => videoSenders(alice)).toEqual([expect.stringContaining("fake"), null]);

  // Again, and this time the browser's "Stop sharing" bar ends it: the track ends.
  await alice.getByRole("button", { name: "Share screen" }).click();
  await expectScreenFrom(bob, "alice");
  // The same m-line is used again: sharing twice does not grow the session.
  expect(await bob.evaluate(() => livePeerConnection().remoteDescription?.sdp.match(/^m=video/gm)?.length)).toBe(2);
  await alice.evaluate(() => {
    const phone = (window as unknown as { peertobeer: { phone: { getSnapshot(): { localScreen?: MediaStream } } } }).peertobeer.phone;
    const track = phone.getSnapshot().localScreen!.getVideoTracks()[0]!;
    track.stop(); // what the browser's bar does; stop() itself fires no `ended`, the bar does
    track.dispatchEvent(new Event("ended"));
  });
  await expect(alice.getByRole("button", { name: "Share screen" })).toBeVisible();
  expect(await sharedTrack(alice)).toBeUndefined();
  await expectCameraOnly(bob, "alice");
  await expect.poll(() => videoSenders(alice)).toEqual([expect.stringContaining("fake"), null]);
});

test("in a group call everyone sees the screen, someone who joins meanwhile too, and everyone returns to the camera", async ({ openUser }) => {
  test.setTimeout(150_000);
  const [alice, bob, carol] = (await people(openUser, "alice", "bob", "carol")) as [Page, Page, Page];
  await connect(alice, "alice", bob, "bob");
  await alice.getByRole("button", { name: "Share screen" }).click();
  await expectScreenFrom(bob, "alice");

  // carol comes in while alice shares: her connection with alice carries the screen from the start.
  await invite(bob, "carol");
  await acceptInvitation(carol, "bob", "alice");
  await expectFramesFromEveryone(carol, ["alice", "bob"]);
  await expectScreenFrom(carol, "alice");
  await expectScreenFrom(bob, "alice");

  await alice.getByRole("button", { name: "Stop sharing" }).click();
  for (const page of [bob, carol]) await expectCameraOnly(page, "alice");
  await expectFramesFromEveryone(bob, ["alice", "carol"]);
  await expectFramesFromEveryone(carol, ["alice", "bob"]);
});
