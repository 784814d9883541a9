import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.js";
import { acceptInvitation, connect, expectFramesFromEveryone, expectVideoPlaying, invite, join, people } from "./helpers.js";
import {
  CANVAS_CAMERA,
  canvasCamera,
  expectFramesRising,
  inboundVideo,
  openSettings,
  remoteDescriptions,
  sentTrack,
  sentTrackIds,
} from "./media-helpers.js";

// Switching camera and microphone mid-call (Settings): replaceTrack on every connection, no
// renegotiation. Chromium's fake devices give one camera and several microphones; a second
// camera comes from a canvas (canvasCamera in media-helpers.ts).

/** alice (with the canvas camera) and bob in a call, media flowing both ways. */
async function aliceAndBob(openUser: (options?: { smallVideo?: boolean }) => Promise<Page>): Promise<[Page, Page]> {
  const alice = await openUser();
  await alice.context().addInitScript(canvasCamera);
  await alice.reload();
  const bob = await openUser();
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");
  return [alice, bob];
}

test("switching the camera mid-call sends the new camera without renegotiating, and the other side keeps decoding frames", async ({ openUser }) => {
  const [alice, bob] = await aliceAndBob(openUser);
  const before = await sentTrack(alice, "video");
  const descriptions = await remoteDescriptions(bob);
  await alice.evaluate(() => {
    (window as unknown as { oldCamera?: MediaStreamTrack | null }).oldCamera = livePeerConnection()
      .getSenders()
      .find((s) => s.track?.kind === "video")?.track;
  });

  const settings = await openSettings(alice);
  const camera = settings.getByRole("combobox", { name: "Camera" });
  await expect(camera).toHaveValue(before?.deviceId ?? "");
  await expect(camera.locator("option", { hasText: "Canvas camera" })).toHaveCount(1);
  await camera.selectOption(CANVAS_CAMERA);

  // The sender now sends the canvas camera's track; the old one is stopped.
  await expect.poll(async () => (await sentTrack(alice, "video"))?.id).toBe(await alice.evaluate(() => window.canvasCameraTrackId));
  expect(await alice.evaluate(() => (window as unknown as { oldCamera: MediaStreamTrack }).oldCamera.readyState)).toBe("ended");
  await expect(camera).toHaveValue(CANVAS_CAMERA);
  // bob decodes the canvas (4:3; the fake camera is 16:9) and the frames keep rising,
  // on the same negotiated session: nothing was renegotiated.
  await expect.poll(async () => (await inboundVideo(bob)).map((s) => s.aspect)).toEqual([1.33]);
  await expectFramesRising(bob.getByLabel("Remote video"));
  expect(await remoteDescriptions(bob)).toEqual(descriptions);
  // alice's own preview shows the new camera too.
  expect(await alice.evaluate(() => (document.querySelector<HTMLVideoElement>('video[aria-label="Local video"]')?.srcObject as MediaStream).getVideoTracks().map((t) => t.id))).toEqual([
    await alice.evaluate(() => window.canvasCameraTrackId),
  ]);
  await expectVideoPlaying(alice, "Local video");
  // The choice is remembered for the next call, where the pre-call check keeps it too.
  expect(await alice.evaluate(() => JSON.parse(localStorage.getItem("peertobeer.devices") ?? "{}"))).toMatchObject({ cameraId: CANVAS_CAMERA });

  // Unplugged mid-call: the call falls back to the default camera, and bob sees it.
  await alice.evaluate(() => window.unplugCanvasCamera());
  await expect.poll(async () => (await sentTrack(alice, "video"))?.state).toBe("live");
  expect((await sentTrack(alice, "video"))?.id).not.toBe(await alice.evaluate(() => window.canvasCameraTrackId));
  await expect(camera.locator("option", { hasText: "Canvas camera" })).toHaveCount(0);
  await expect.poll(async () => (await inboundVideo(bob)).map((s) => s.aspect)).toEqual([1.78]);
  await expectFramesRising(bob.getByLabel("Remote video"));
  expect(await remoteDescriptions(bob)).toEqual(descriptions);
});

test("switching the microphone mid-call keeps it muted when it was, and the other side keeps receiving audio", async ({ openUser }) => {
  const [alice, bob] = await aliceAndBob(openUser);
  const descriptions = await remoteDescriptions(bob);
  await alice.getByRole("button", { name: "Mute microphone" }).click();
  await expect(bob.getByText("alice is muted")).toBeVisible();

  const settings = await openSettings(alice);
  const microphone = settings.getByRole("combobox", { name: "Microphone" });
  const current = await microphone.inputValue();
  const ids = await microphone.locator("option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  const chosen = ids.find((id) => id !== current && id !== "default");
  expect(chosen, `a second microphone among ${ids.join(", ")}`).toBeDefined();
  await microphone.selectOption(chosen!);

  await expect.poll(async () => (await sentTrack(alice, "audio"))?.deviceId).toBe(chosen);
  expect(await sentTrack(alice, "audio")).toMatchObject({ enabled: false, state: "live" });
  await expect(bob.getByText("alice is muted")).toBeVisible();
  expect(await alice.evaluate(() => JSON.parse(localStorage.getItem("peertobeer.devices") ?? "{}"))).toMatchObject({ microphoneId: chosen });

  await alice.getByRole("button", { name: "Unmute microphone" }).click();
  await expect(bob.getByText("alice is muted")).toHaveCount(0);
  expect(await sentTrack(alice, "audio")).toMatchObject({ enabled: true, deviceId: chosen });
  const audio = () =>
    bob.evaluate(async () => {
      let packets = 0;
      (await livePeerConnection().getStats()).forEach((e: { type: string; kind?: string; packetsReceived?: number }) => {
        if (e.type === "inbound-rtp" && e.kind === "audio") packets += e.packetsReceived ?? 0;
      });
      return packets;
    });
  const packets = await audio();
  await expect.poll(audio).toBeGreaterThan(packets + 20);
  await expectFramesRising(bob.getByLabel("Remote video"));
  expect(await remoteDescriptions(bob)).toEqual(descriptions);

  // The speaker, where the browser can pick one: every remote <video> plays to it.
  const speaker = settings.getByRole("combobox", { name: "Speaker" });
  await expect(speaker).toBeVisible();
  const outputs = await speaker.locator("option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  const output = outputs.find((id) => id !== "") ?? "";
  if (output !== "") {
    await speaker.selectOption(output);
    await expect.poll(() => alice.evaluate(() => [...document.querySelectorAll<HTMLVideoElement>('video[aria-label="Remote video"]')].map((v) => v.sinkId))).toEqual([
      output === "default" ? "default" : output,
    ]);
  }
});

test("in a group call a camera switch reaches everyone", async ({ openUser }) => {
  test.setTimeout(120_000);
  const [alice, bob, carol] = (await people(openUser, "alice", "bob", "carol")) as [Page, Page, Page];
  await alice.context().addInitScript(canvasCamera);
  await alice.reload();
  await expect(alice.getByRole("textbox", { name: "Recipient ID" })).toBeVisible(); // resumed as alice
  await connect(alice, "alice", bob, "bob");
  await invite(alice, "carol");
  await acceptInvitation(carol, "alice", "bob");
  await expectFramesFromEveryone(bob, ["alice", "carol"]);
  await expectFramesFromEveryone(carol, ["alice", "bob"]);

  const settings = await openSettings(alice);
  await settings.getByRole("combobox", { name: "Camera" }).selectOption(CANVAS_CAMERA);
  const canvas = await alice.evaluate(() => window.canvasCameraTrackId);
  await expect.poll(() => sentTrackIds(alice, "video")).toEqual([canvas, canvas]);
  for (const page of [bob, carol]) {
    await expect.poll(async () => (await inboundVideo(page)).map((s) => s.aspect)).toContain(1.33);
    await expectFramesFromEveryone(page, page === bob ? ["alice", "carol"] : ["alice", "bob"]);
  }
});
