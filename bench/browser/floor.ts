/**
 * B4's floor: what a call costs the browser alone, like for like with the apps. Two browser
 * contexts (a caller's page and a callee's, as for ours and PeerJS), each with its own fake
 * camera + microphone, one RTCPeerConnection each; no signaling server: the bench hands the
 * descriptions and candidates from one page to the other itself. Each side's video starts at
 * most FIRST_FRAMES.maxHeight high, as the SDK sends it (the page runs the SDK's own
 * limitVideoHeight): without that Chromium drops a 720p camera's first frames while it scales
 * down to its starting bandwidth estimate, and the floor would measure that drop, not a call.
 */
import { FIRST_FRAMES, limitVideoHeight } from "@peertobeer/client";
import type { Browser } from "playwright-core";
import type { AssetServer } from "./assets.js";
import {
  launchBrowser,
  loop,
  MEDIA_CONSTRAINTS,
  probedPage,
  resetProbe,
  ring,
  twoPageTiming,
  waitFrames,
  type CallPlan,
  type Page,
  type SystemRun,
} from "./common.js";
import type { ProbeWindow } from "./probe.js";

const REMOTE = "Remote video";

/** What the callee's page hands to the caller's: its answer, then its candidates as gathered. */
type FloorMessage = { kind: "answer"; sdp: string } | { kind: "candidate"; candidate: RTCIceCandidateInit };

interface FloorWindow extends ProbeWindow {
  __local: MediaStream;
  __pc: RTCPeerConnection | undefined;
  /** The SDK's own limitVideoHeight (packages/client/src/first-frames.ts), in the page. */
  __limitVideoHeight: typeof limitVideoHeight;
  /** floorConnection, installed in the page (page functions can reach nothing outside them). */
  __floorConnection: typeof floorConnection;
  /** Exposed by the bench in the callee's page: carries a message to the caller's page. */
  __floorSend: (message: FloorMessage) => Promise<void>;
}

interface Offer {
  sdp: string;
  candidates: RTCIceCandidateInit[];
}

/** In a page: its camera + microphone, shown in its self view. */
async function openStream(constraints: MediaStreamConstraints): Promise<void> {
  const w = window as unknown as FloorWindow;
  w.__local = await navigator.mediaDevices.getUserMedia(constraints);
  const self = document.querySelector<HTMLVideoElement>('video[aria-label="Local video"]');
  if (self) self.srcObject = w.__local;
}

/**
 * In a page: a connection sending its camera (starting small) and showing what it receives in
 * "Remote video"; `onCandidate` gets its candidates, null at the end of gathering.
 */
function floorConnection(w: FloorWindow, maxHeight: number, onCandidate: (candidate: RTCIceCandidate | null) => void) {
  const pc = new RTCPeerConnection({ iceServers: [], bundlePolicy: "max-bundle" });
  w.__pc = pc;
  const video = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]');
  if (!video) throw new Error('no video "Remote video"');
  pc.ontrack = ({ streams: [stream] }) => {
    if (stream && video.srcObject !== stream) video.srcObject = stream;
  };
  pc.onicecandidate = ({ candidate }) => onCandidate(candidate && candidate.candidate !== "" ? candidate : null);
  for (const track of w.__local.getTracks()) pc.addTrack(track, w.__local);
  return { pc, startSmall: () => w.__limitVideoHeight(pc.getSenders(), maxHeight) };
}

/** In the caller's page: offers and gathers every candidate (the ringing, not timed). */
async function floorOffer(maxHeight: number): Promise<Offer> {
  const w = window as unknown as FloorWindow;
  const candidates: RTCIceCandidateInit[] = [];
  let gathered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (gathered = resolve));
  const { pc, startSmall } = w.__floorConnection(w, maxHeight, (candidate) => {
    if (candidate) candidates.push(candidate.toJSON());
    else gathered();
  });
  await pc.setLocalDescription(await pc.createOffer());
  await startSmall();
  await done;
  const sdp = pc.localDescription?.sdp;
  if (!sdp) throw new Error("the caller has no offer");
  return { sdp, candidates };
}

/**
 * In the callee's page, at Accept: the probe marks it, then the callee creates its connection,
 * applies the offer and the caller's candidates, answers, and sends the answer and then each
 * candidate as it is gathered. Resolves once the answer is on its way.
 */
async function floorAnswer({ offer, maxHeight }: { offer: Offer; maxHeight: number }): Promise<void> {
  const w = window as unknown as FloorWindow;
  w.__b4.mark();
  const { pc, startSmall } = w.__floorConnection(w, maxHeight, (candidate) => {
    if (candidate) void w.__floorSend({ kind: "candidate", candidate: candidate.toJSON() });
  });
  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  await Promise.all(offer.candidates.map((candidate) => pc.addIceCandidate(candidate)));
  await pc.setLocalDescription(await pc.createAnswer());
  const sdp = pc.localDescription?.sdp;
  if (!sdp) throw new Error("the callee has no answer");
  void w.__floorSend({ kind: "answer", sdp });
  // Beside the answer's way to the caller, as the SDK does it.
  await startSmall();
}

/** In the caller's page: applies what the callee sent. */
async function floorReceive(message: FloorMessage): Promise<void> {
  const pc = (window as unknown as FloorWindow).__pc;
  if (!pc) throw new Error("the caller has no connection");
  if (message.kind === "answer") await pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
  else await pc.addIceCandidate(message.candidate);
}

/** In a page: closes its connection and clears its remote video. */
function floorHangUp(): void {
  const w = window as unknown as FloorWindow;
  w.__pc?.close();
  w.__pc = undefined;
  const video = document.querySelector<HTMLVideoElement>('video[aria-label="Remote video"]');
  if (video) video.srcObject = null;
}

/**
 * Carries the callee's messages to the caller's page in the order sent; a candidate that
 * overtook the answer would be refused, so each waits for the one before it.
 */
class Courier {
  private last: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(private readonly caller: Page) {}

  send(message: FloorMessage): void {
    this.last = this.last.then(() => this.caller.evaluate(floorReceive, message)).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** Everything sent so far has been applied; throws what failed. */
  async settled(): Promise<void> {
    await this.last;
    if (this.failure !== undefined) throw this.failure;
  }
}

async function oneCall(caller: Page, callee: Page, courier: Courier, timeoutMs: number, ringMs: number) {
  await Promise.all([resetProbe(caller), resetProbe(callee)]);
  const maxHeight = FIRST_FRAMES.maxHeight;
  const offer = await caller.evaluate(floorOffer, maxHeight);
  if (ringMs > 0) await ring(ringMs);
  await callee.evaluate(floorAnswer, { offer, maxHeight });
  await Promise.all([waitFrames(caller, [REMOTE], timeoutMs), waitFrames(callee, [REMOTE], timeoutMs)]);
  await courier.settled();
  const timing = await twoPageTiming(caller, callee, REMOTE, ringMs, "the floor's callee did not mark Accept");
  await Promise.all([caller.evaluate(floorHangUp), callee.evaluate(floorHangUp)]);
  await courier.settled();
  return timing;
}

export async function runFloor(plan: CallPlan, assets: AssetServer): Promise<SystemRun> {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const caller = (await probedPage(browser)).page;
    const callee = (await probedPage(browser)).page;
    const courier = new Courier(caller);
    await callee.exposeFunction("__floorSend", (message: FloorMessage) => courier.send(message));
    for (const page of [caller, callee]) {
      await page.addInitScript({
        content: `window.__limitVideoHeight = ${limitVideoHeight.toString()}; window.__floorConnection = ${floorConnection.toString()};`,
      });
      await page.goto(`${assets.url}/floor.html`);
      await page.evaluate(openStream, MEDIA_CONSTRAINTS);
    }
    return await loop("floor", plan, (ringMs) => oneCall(caller, callee, courier, plan.stepTimeoutMs, ringMs));
  } finally {
    await browser?.close();
  }
}
