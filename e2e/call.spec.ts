import { expect, test } from "./fixtures.js";
import {
  call,
  expectMediaFlowing,
  expectVideoPlaying,
  inboundStats,
  incomingDialog,
  join,
  localTrackEnabled,
  negotiatedCodecs,
  remoteVideoTracks,
  videoSenderScale,
} from "./helpers.js";

test("alice calls bob from the online list; both see and hear each other; hang-up reaches alice", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await expectVideoPlaying(alice, "Camera preview");

  // Presence is live: bob shows up in alice's list without a reload.
  await alice.getByRole("button", { name: "Call bob" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "Calling bob…" })).toBeVisible();
  await expect(alice.getByRole("button", { name: "Cancel" })).toBeVisible();

  const dialog = incomingDialog(bob, "alice");
  await expect(dialog).toBeVisible();
  // Behind the dialog bob already has the call screen, and on both sides the remote video is
  // bound to the call's audio and video tracks while it rings: Accept only closes the dialog.
  await expect(bob.getByRole("status").filter({ hasText: "alice is calling…" })).toBeVisible();
  for (const page of [alice, bob]) await expect.poll(() => remoteVideoTracks(page)).toBe(2);
  await dialog.getByRole("button", { name: "Accept" }).click();

  await expect(alice.getByRole("button", { name: "Hang up" })).toBeVisible();
  await expect(alice.getByLabel("Remote video")).toBeVisible();
  await expect(bob.getByLabel("Local video")).toBeVisible();
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);

  // Mute and camera toggles really disable the tracks, and the peer is told.
  await alice.getByRole("button", { name: "Mute microphone" }).click();
  await expect(alice.getByRole("button", { name: "Unmute microphone" })).toBeVisible();
  expect(await localTrackEnabled(alice, "audio")).toBe(false);
  await expect(bob.getByText("alice is muted")).toBeVisible();
  await alice.getByRole("button", { name: "Turn camera off" }).click();
  await expect(alice.getByRole("button", { name: "Turn camera on" })).toBeVisible();
  expect(await localTrackEnabled(alice, "video")).toBe(false);
  await expect(bob.getByText("Camera is off")).toBeVisible();
  await alice.getByRole("button", { name: "Unmute microphone" }).click();
  await alice.getByRole("button", { name: "Turn camera on" }).click();
  expect(await localTrackEnabled(alice, "audio")).toBe(true);
  expect(await localTrackEnabled(alice, "video")).toBe(true);
  await expect(bob.getByText("alice is muted")).toBeHidden();

  await bob.getByRole("button", { name: "Hang up" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible();
  await expect(bob.getByText("Call with alice ended.")).toBeVisible();
  // Back in the lobby, the camera preview is live again, and the call's videos let go of their
  // streams: a removed <video> holding camera frames until it is garbage collected stalls the
  // camera for every view of it (for seconds; docs/BENCHMARKS.md, B4).
  for (const page of [alice, bob]) {
    await expectVideoPlaying(page, "Camera preview");
    expect(await page.evaluate(() => detachedVideosHoldingStreams())).toBe(0);
  }
});

test("a declined call is shown to the caller", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  await expect(incomingDialog(bob, "alice")).toBeVisible();
  // bob's answer is ready while it rings and alice applies a copy of it (her encoder gets ready),
  // but none of bob's addresses reaches her: no connection, nothing sent either way.
  await expect.poll(() => bob.evaluate(() => livePeerConnection().localDescription?.type)).toBe("answer");
  await expect.poll(() => alice.evaluate(() => livePeerConnection().remoteDescription?.type)).toBe("answer");
  const whileRinging = () =>
    alice.evaluate(async () => {
      const pc = livePeerConnection();
      let remoteCandidates = 0;
      let bytesSent = 0;
      (await pc.getStats()).forEach((entry: { type: string; bytesSent?: number }) => {
        if (entry.type === "remote-candidate") remoteCandidates += 1;
        if (entry.type === "outbound-rtp") bytesSent += entry.bytesSent ?? 0;
      });
      const candidateLines = (pc.remoteDescription?.sdp ?? "").split("\r\n").filter((line) => line.startsWith("a=candidate:")).length;
      return { remoteCandidates, candidateLines, bytesSent, connected: pc.connectionState === "connected" };
    });
  expect(await whileRinging()).toEqual({ remoteCandidates: 0, candidateLines: 0, bytesSent: 0, connected: false });
  await expect(alice.getByText("Calling bob")).toBeVisible();
  await incomingDialog(bob, "alice").getByRole("button", { name: "Decline" }).click();
  await expect(alice.getByRole("alert").filter({ hasText: "bob declined your call." })).toBeVisible();
  await expect(incomingDialog(bob, "alice")).toBeHidden();
});

test("bad IDs, a taken ID and an offline recipient get visible messages", async ({ openUser }) => {
  const alice = await openUser();
  const intruder = await openUser();
  await join(alice, "alice");

  const yourId = intruder.getByRole("textbox", { name: "Your ID" });
  await yourId.fill("alice");
  await intruder.getByRole("button", { name: "Join" }).click();
  await expect(intruder.getByRole("alert")).toHaveText('The ID "alice" is already taken. Choose another one.');

  await yourId.fill("a".repeat(65));
  await intruder.getByRole("button", { name: "Join" }).click();
  await expect(intruder.getByRole("alert")).toContainText("at most 64 characters");

  await yourId.fill("bad id!");
  await intruder.getByRole("button", { name: "Join" }).click();
  await expect(intruder.getByRole("alert")).toContainText("may only use letters, digits");

  await yourId.fill("");
  await intruder.getByRole("button", { name: "Join" }).click();
  await expect(intruder.getByRole("alert")).toContainText("An ID is required.");

  await call(alice, "nobody");
  await expect(alice.getByRole("alert").filter({ hasText: "nobody is not online." })).toBeVisible();
  // Nothing else changed: alice can still be called.
  await join(intruder, "carol");
  await call(intruder, "alice");
  await expect(incomingDialog(alice, "carol")).toBeVisible();
});

test("with camera and microphone blocked the user is told, can join, and still sees the caller", async ({ openUser }) => {
  const blocked = await openUser({ denyMedia: true });
  const alice = await openUser();
  await join(blocked, "dave");
  await expect(blocked.getByRole("alert").filter({ hasText: "Camera and microphone access was denied" })).toBeVisible();
  await join(alice, "alice");
  await call(alice, "dave");
  await incomingDialog(blocked, "alice").getByRole("button", { name: "Accept" }).click();
  await expectMediaFlowing(blocked);
  expect((await inboundStats(alice)).framesDecoded).toBe(0);
});

test("accepted call: media both ways, first frames small, with only the SDK's preferred codecs in every description", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  const dialog = incomingDialog(bob, "alice");
  await expect(dialog).toBeVisible();
  // packages/client/src/first-frames.ts: the 720p fake camera goes out at 360p until the call
  // has been connected for a moment (the answer is prepared while it rings), then at 720p.
  await expect.poll(() => videoSenderScale(bob)).toBe(2);
  await expect.poll(() => videoSenderScale(alice)).toBe(2);
  await dialog.getByRole("button", { name: "Accept" }).click();
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  await expect.poll(() => videoSenderScale(alice)).toBe(1);
  await expect.poll(() => videoSenderScale(bob)).toBe(1);
  // packages/client/src/codecs.ts: Opus + RED, VP8, VP9 profile 0, H.264 42e01f, AV1, RTX.
  const wanted = new Set(["opus", "red", "VP8", "rtx", "VP9", "H264 42e01f", "AV1"]);
  for (const page of [alice, bob]) {
    const { local, remote } = await negotiatedCodecs(page);
    expect(local).toContain("VP8");
    expect(remote).toContain("opus");
    expect([...local, ...remote].filter((codec) => !wanted.has(codec))).toEqual([]);
  }
  await alice.getByRole("button", { name: "Hang up" }).click();
  await expect(bob.getByText("alice hung up.")).toBeVisible();
});

test("camera allowed only while the call rings: once accepted, the callee is seen and heard", async ({ openUser }) => {
  const alice = await openUser();
  const bob = await openUser({ holdCamera: true });
  await join(alice, "alice");
  await join(bob, "bob");
  await call(alice, "bob");
  const dialog = incomingDialog(bob, "alice");
  await expect(dialog).toBeVisible();
  // The answer is being prepared while it rings, without bob's camera; then he allows it.
  await bob.evaluate(() => grantCamera());
  await dialog.getByRole("button", { name: "Accept" }).click();
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  expect(await localTrackEnabled(bob, "video")).toBe(true);
});
