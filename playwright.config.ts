import { defineConfig } from "@playwright/test";
import { CHROMIUM, CHROMIUM_ARGS } from "./test/support/chromium.js";

export default defineConfig({
  testDir: "e2e",
  // Each test drives two or three real Chromium contexts encoding and decoding video;
  // on a 2-core machine one worker keeps timings honest.
  workers: 1,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 15_000 },
  reporter: [["list"]],
  use: {
    headless: true,
    launchOptions: {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
    },
    trace: "retain-on-failure",
  },
});
