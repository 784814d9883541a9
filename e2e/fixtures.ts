import { test as base, expect, type Browser, type BrowserContext, type Page } from "@playwright/test";

import { startAppServer, type AppServer } from "../test/support/app-server.js";

export { freePorts } from "../test/support/ports.js";

export type TestServer = AppServer;

/** The server as `npm start` runs it, on free loopback ports (see test/support/app-server.ts). */
export const startServer = (env: Record<string, string> = {}) => startAppServer(env);

export const stopServer = (server: TestServer) => server.stop();

declare global {
  /** In pages opened by `openUser`: the newest peer connection that is not closed (throws if none). */
  function livePeerConnection(): RTCPeerConnection;
  /** In pages opened by `openUser`: <video> elements no longer in the page that still hold a stream. */
  function detachedVideosHoldingStreams(): number;
  /** In pages opened with `holdCamera`: lets the pending getUserMedia go on. */
  function grantCamera(): void;
}

/** getUserMedia answers only once the test calls grantCamera(). */
function holdCamera() {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  let grant: () => void = () => undefined;
  const granted = new Promise<void>((resolve) => (grant = resolve));
  window.grantCamera = () => grant();
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    await granted;
    return original(constraints);
  };
}

/**
 * The camera at 320×180 and 15 fps, whatever the app asks: four Chromium pages each encoding a
 * stream per peer fit two cores only with small video.
 */
function smallCamera() {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    original(constraints?.video ? { ...constraints, video: { width: 320, height: 180, frameRate: 15 } } : constraints);
}

/** Remembers every media element given a stream, to find those removed from the page still holding one. */
function trackVideoStreams() {
  const property = Object.getOwnPropertyDescriptor(HTMLMediaElement.prototype, "srcObject");
  if (!property?.set || !property.get) throw new Error("HTMLMediaElement.srcObject is not an accessor");
  const given = new Set<HTMLMediaElement>();
  const { get, set } = property;
  Object.defineProperty(HTMLMediaElement.prototype, "srcObject", {
    ...property,
    set(this: HTMLMediaElement, value: MediaProvider | null) {
      if (value) given.add(this);
      set.call(this, value);
    },
  });
  window.detachedVideosHoldingStreams = () => [...given].filter((element) => !element.isConnected && get.call(element)).length;
}

/** Records every RTCPeerConnection the page makes, so tests can read its getStats(). */
function trackPeerConnections() {
  const Native = window.RTCPeerConnection;
  const seen: RTCPeerConnection[] = [];
  (window as unknown as { __peerConnections: RTCPeerConnection[] }).__peerConnections = seen;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      seen.push(this);
    }
  };
  window.livePeerConnection = () => {
    const live = seen.filter((pc) => pc.connectionState !== "closed").at(-1);
    if (!live) throw new Error("no live peer connection");
    return live;
  };
}

interface Fixtures {
  /**
   * A new browser context on the app; `url` points it at a server other than the worker's.
   * `holdCamera`: getUserMedia waits until the page calls `grantCamera()`, as for a user who
   * answers the permission prompt late. `smallVideo`: a small camera (group calls).
   */
  openUser: (options?: { denyMedia?: boolean; url?: string; holdCamera?: boolean; smallVideo?: boolean }) => Promise<Page>;
}

interface WorkerFixtures {
  serverEnv: Record<string, string>;
  server: TestServer;
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  serverEnv: [{}, { scope: "worker", option: true }],
  server: [
    async ({ serverEnv }, use) => {
      const server = await startServer(serverEnv);
      await use(server);
      await stopServer(server);
    },
    { scope: "worker" },
  ],
  openUser: async ({ browser, playwright, launchOptions, server, ignoreHTTPSErrors }, use, testInfo) => {
    const contexts: BrowserContext[] = [];
    const consoleLines: string[] = [];
    let blockingBrowser: Browser | undefined;
    await use(async (options = {}) => {
      if (options.denyMedia) {
        // A browser whose permission prompts are answered "Block", as a user who refuses would.
        blockingBrowser ??= await playwright.chromium.launch({
          ...launchOptions,
          args: [...(launchOptions.args ?? []).filter((a) => a !== "--use-fake-ui-for-media-stream"), "--deny-permission-prompts"],
        });
      }
      // ignoreHTTPSErrors (test.use) lets a test trust its self-signed certificate.
      const context = await (options.denyMedia && blockingBrowser ? blockingBrowser : browser).newContext({ ignoreHTTPSErrors });
      contexts.push(context);
      await context.addInitScript(trackPeerConnections);
      await context.addInitScript(trackVideoStreams);
      if (options.holdCamera) await context.addInitScript(holdCamera);
      if (options.smallVideo) await context.addInitScript(smallCamera);
      const page = await context.newPage();
      const index = contexts.length;
      page.on("console", (message) => consoleLines.push(`[user ${index}] ${message.type()}: ${message.text()}`));
      page.on("pageerror", (error) => consoleLines.push(`[user ${index}] pageerror: ${error.message}`));
      await page.goto(options.url ?? server.url);
      return page;
    });
    if (testInfo.status !== testInfo.expectedStatus && consoleLines.length > 0) {
      await testInfo.attach("browser console", { body: consoleLines.join("\n"), contentType: "text/plain" });
    }
    for (const context of contexts) await context.close();
    await blockingBrowser?.close();
  },
});

export { expect };
