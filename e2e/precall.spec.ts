import { expectVideoPlaying, join } from "./helpers.js";
import { expect, meterValue, networkResult, openCheck, recordStreams, test } from "./precall-fixtures.js";

// The pre-call check on the join screen (coturn as STUN and TURN server; see precall-fixtures.ts).

test.describe("with coturn as STUN and TURN server", () => {
  test("shows the camera, a moving microphone level, the devices and that direct connections and the relay work", async ({ openUser }) => {
    const page = await openUser();
    await expect(page.getByRole("button", { name: "Check camera and network" })).toHaveAttribute("aria-expanded", "false");
    const check = await openCheck(page);
    await expect(page.getByRole("button", { name: "Check camera and network" })).toHaveAttribute("aria-expanded", "true");

    await expectVideoPlaying(page, "Camera preview");
    await expect(check.getByLabel("Camera preview")).toHaveJSProperty("muted", true);

    // Chromium's fake microphone beeps: the level rises above silence, then changes.
    await expect.poll(() => meterValue(page)).toBeGreaterThan(0);
    const first = await meterValue(page);
    await expect.poll(() => meterValue(page)).not.toBe(first);

    for (const name of ["Camera", "Microphone"]) {
      const select = check.getByRole("combobox", { name });
      await expect(select).toBeEnabled();
      expect(await select.locator("option").count(), name).toBeGreaterThan(0);
      await expect(select).not.toHaveValue("");
    }

    await expect(networkResult(page)).toHaveText("Network: good — direct connections work, and the relay (TURN) works too");
  });

  test("remembers the chosen microphone for the next visit and the call, and lets go of the preview on Join", async ({ openUser }) => {
    const page = await openUser();
    await page.context().addInitScript(recordStreams);
    await page.reload();
    const check = await openCheck(page);
    const microphone = check.getByRole("combobox", { name: "Microphone" });
    await expect(microphone).not.toHaveValue("");
    // Chromium's fake devices: one camera, several microphones. Pick one that is not the default.
    const ids = await microphone.locator("option").evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
    const current = await microphone.inputValue();
    const chosen = ids.find((id) => id !== current && id !== "default");
    expect(chosen, `a second microphone among ${ids.join(", ")}`).toBeDefined();
    await microphone.selectOption(chosen!);
    // The preview reopens on the chosen microphone.
    await expect.poll(() => page.evaluate(() => window.openedStreams.at(-1)?.getAudioTracks()[0]?.getSettings().deviceId)).toBe(chosen);
    const camera = await check.getByRole("combobox", { name: "Camera" }).inputValue();
    expect(await page.evaluate(() => JSON.parse(localStorage.getItem("peertobeer.devices") ?? "{}"))).toEqual({ microphoneId: chosen });

    await page.reload();
    const again = await openCheck(page);
    await expect(again.getByRole("combobox", { name: "Microphone" })).toHaveValue(chosen!);
    await expect(again.getByRole("combobox", { name: "Camera" })).toHaveValue(camera);
    await expectVideoPlaying(page, "Camera preview");

    await join(page, "remembers");
    await expectVideoPlaying(page, "Camera preview"); // the lobby's preview, on the call's stream
    const tracks = await page.evaluate(() =>
      window.openedStreams.map((stream) => stream.getTracks().map((t) => ({ kind: t.kind, live: t.readyState === "live", deviceId: t.getSettings().deviceId }))),
    );
    // The check's streams are all stopped; only the call's (opened last, on the chosen microphone) is live.
    expect(tracks.slice(0, -1).flat().filter((t) => t.live)).toEqual([]);
    expect(tracks.at(-1)).toEqual(
      expect.arrayContaining([
        { kind: "audio", live: true, deviceId: chosen },
        { kind: "video", live: true, deviceId: camera },
      ]),
    );
  });

  test("closing the check stops the camera and microphone", async ({ openUser }) => {
    const page = await openUser();
    await page.context().addInitScript(recordStreams);
    await page.reload();
    await openCheck(page);
    await expectVideoPlaying(page, "Camera preview");
    await page.getByRole("button", { name: "Close check" }).click();
    await expect(page.getByRole("region", { name: "Camera and network check" })).toHaveCount(0);
    await expect(page.getByRole("button", { name: "Check camera and network" })).toBeFocused();
    expect(await page.evaluate(() => window.openedStreams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === "live").length)).toBe(0);
  });

  test("with camera and microphone blocked, the check says so and still checks the network", async ({ openUser }) => {
    const page = await openUser({ denyMedia: true });
    const check = await openCheck(page);
    await expect(check.getByRole("alert")).toHaveText(/^Camera and microphone access was denied/);
    await expect(check.getByRole("combobox", { name: "Camera" })).toBeDisabled();
    await expect(networkResult(page)).toHaveText(/^Network: good/);
  });

  test("a remembered device that is gone falls back to the default without an error", async ({ openUser }) => {
    const page = await openUser();
    await page.evaluate(() => localStorage.setItem("peertobeer.devices", JSON.stringify({ cameraId: "unplugged", microphoneId: "unplugged" })));
    await page.reload();
    await join(page, "fallback");
    await expectVideoPlaying(page, "Camera preview");
    await expect(page.getByRole("alert")).toHaveCount(0);
  });
});
