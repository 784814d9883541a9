/**
 * B4 for the PeerJS baseline: the peerjs browser client (node_modules/peerjs/dist/peerjs.min.js)
 * in two browser contexts against the `peer` server (bench/peerjs-under-test.ts, its own
 * process). The callee answers in its 'call' handler, the automated equivalent of Accept.
 */
import type { MediaConnection, Peer } from "peerjs";
import type { Browser } from "playwright-core";
import { startTarget } from "../lib/processes.js";
import type { AssetServer } from "./assets.js";
import {
  MEDIA_CONSTRAINTS,
  collectPageErrors,
  errorText,
  launchBrowser,
  loop,
  probedPage,
  resetProbe,
  twoPageTiming,
  waitFrames,
  type CallPlan,
  type Page,
  type SystemRun,
} from "./common.js";
import type { ProbeWindow } from "./probe.js";

const CALLER = "b4-caller";
const CALLEE = "b4-callee";
const REMOTE = "Remote video";

interface PeerWindow extends ProbeWindow {
  Peer: typeof Peer;
  __peer: Peer;
  __local: MediaStream;
  __call: MediaConnection | undefined;
  __errors: string[];
  /** How long the callee lets the next call ring before answering (0: at once). */
  __ringMs: number;
}

interface PeerSetup {
  id: string;
  port: number;
  answer: boolean;
  constraints: MediaStreamConstraints;
  timeoutMs: number;
}

/** In the page: opens the camera, connects to the PeerJS server, and (callee) answers every call. */
async function setUpPeer({ id, port, answer, constraints, timeoutMs }: PeerSetup): Promise<void> {
  const w = window as unknown as PeerWindow;
  w.__errors = [];
  w.__call = undefined;
  w.__ringMs = 0;
  w.__local = await navigator.mediaDevices.getUserMedia(constraints);
  // The self view, as the app shows one.
  const self = document.querySelector<HTMLVideoElement>('video[aria-label="Local video"]');
  if (self) self.srcObject = w.__local;
  const peer = new w.Peer(id, { host: "127.0.0.1", port, path: "/", secure: false, config: { iceServers: [] }, debug: 0 });
  w.__peer = peer;
  peer.on("error", (error) => w.__errors.push(`peer: ${error.type}: ${error.message}`));
  if (answer) {
    peer.on("call", (call) => {
      const accept = () => {
        // Accept: the time from here on is PeerJS's alone.
        w.__b4.mark();
        const video = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]');
        call.on("stream", (stream) => {
          if (video && video.srcObject !== stream) video.srcObject = stream;
        });
        call.on("error", (error) => w.__errors.push(`call: ${error.type}: ${error.message}`));
        w.__call = call;
        call.answer(w.__local);
      };
      // The phone rings, as the app's dialog does for a person, or is answered at once.
      if (w.__ringMs > 0) setTimeout(accept, w.__ringMs);
      else accept();
    });
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PeerJS did not open within ${timeoutMs} ms: ${w.__errors.join("; ")}`)), timeoutMs);
    peer.on("open", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** In the caller's page: calls the callee with the local stream. */
function placeCall(calleeId: string): void {
  const w = window as unknown as PeerWindow;
  const call = w.__peer.call(calleeId, w.__local);
  w.__call = call;
  const video = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]');
  call.on("stream", (stream) => {
    if (video && video.srcObject !== stream) video.srcObject = stream;
  });
  call.on("error", (error) => w.__errors.push(`call: ${error.type}: ${error.message}`));
}

/** In either page: closes the call (its peer connection) and clears the remote video. */
function endCall(): void {
  const w = window as unknown as PeerWindow;
  w.__call?.close();
  w.__call = undefined;
  const video = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]');
  if (video) video.srcObject = null;
}

function peerErrors(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as PeerWindow).__errors);
}

async function oneCall(caller: Page, callee: Page, timeoutMs: number, ringMs: number) {
  await Promise.all([resetProbe(caller), resetProbe(callee)]);
  await callee.evaluate((ms) => {
    (window as unknown as PeerWindow).__ringMs = ms;
  }, ringMs);
  await caller.evaluate(placeCall, CALLEE);
  try {
    await Promise.all([waitFrames(caller, [REMOTE], timeoutMs), waitFrames(callee, [REMOTE], timeoutMs)]);
  } catch (error) {
    const errors = [...(await peerErrors(caller)), ...(await peerErrors(callee))];
    throw new Error(`${errorText(error)}${errors.length ? ` (${errors.join("; ")})` : ""}`);
  }
  const timing = await twoPageTiming(caller, callee, REMOTE, ringMs, "the callee never got the call");
  // Closing a MediaConnection is synchronous (it closes the peer connection) and tells the
  // server nothing, so both sides are ready for the next call once both have closed.
  await Promise.all([caller.evaluate(endCall), callee.evaluate(endCall)]);
  return timing;
}

export async function runPeerjs(plan: CallPlan, assets: AssetServer): Promise<SystemRun> {
  const target = await startTarget("peerjs", { maxSessions: 100, cpuProfileDir: undefined });
  let browser: Browser | undefined;
  const pageErrors: string[] = [];
  try {
    const port = target.info.webPort;
    if (port === undefined) throw new Error("the PeerJS server did not report its port");
    browser = await launchBrowser();
    const caller = (await probedPage(browser)).page;
    const callee = (await probedPage(browser)).page;
    collectPageErrors(caller, pageErrors, "caller");
    collectPageErrors(callee, pageErrors, "callee");
    await Promise.all([caller.goto(`${assets.url}/peerjs.html`), callee.goto(`${assets.url}/peerjs.html`)]);
    const setup = { port, constraints: MEDIA_CONSTRAINTS, timeoutMs: plan.stepTimeoutMs };
    await callee.evaluate(setUpPeer, { ...setup, id: CALLEE, answer: true });
    await caller.evaluate(setUpPeer, { ...setup, id: CALLER, answer: false });
    const result = await loop("PeerJS", plan, (ringMs) => oneCall(caller, callee, plan.stepTimeoutMs, ringMs));
    if (result.errors.length > 0 && pageErrors.length > 0) result.errors.push(...pageErrors.slice(0, 5));
    return result;
  } finally {
    await browser?.close();
    await target.stop();
  }
}
