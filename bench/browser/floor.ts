/**
 * B4's floor: what a call costs the browser alone. One page, two RTCPeerConnections (caller and
 * callee), each with its own fake camera + microphone stream, signaling by direct function calls.
 */
import { FIRST_FRAMES, limitVideoHeight } from "@peertobeer/client";
import type { Browser } from "playwright-core";
import { FLOOR_VIEWPORT, type AssetServer } from "./assets.js";
import {
  callTiming,
  launchBrowser,
  loop,
  MEDIA_CONSTRAINTS,
  probedPage,
  readProbe,
  readVideoStats,
  resetProbe,
  waitFrames,
  type CallPlan,
  type Page,
  type SystemRun,
} from "./common.js";
import type { ProbeWindow } from "./probe.js";

const CALLER_VIDEO = "Remote video (caller)";
const CALLEE_VIDEO = "Remote video (callee)";

interface FloorWindow extends ProbeWindow {
  __callerStream: MediaStream;
  __calleeStream: MediaStream;
  __pcs: RTCPeerConnection[];
  /** The SDK's own limitVideoHeight (packages/client/src/first-frames.ts), in the page. */
  __limitVideoHeight?: typeof limitVideoHeight;
}

/** In the page: one camera + microphone stream per side, as two users would have. */
async function openStreams(constraints: MediaStreamConstraints): Promise<void> {
  const w = window as unknown as FloorWindow;
  w.__pcs = [];
  w.__callerStream = await navigator.mediaDevices.getUserMedia(constraints);
  w.__calleeStream = await navigator.mediaDevices.getUserMedia(constraints);
  // Each side's self view, as the app shows one.
  for (const [label, stream] of [["Local video (caller)", w.__callerStream], ["Local video (callee)", w.__calleeStream]] as const) {
    const self = document.querySelector<HTMLVideoElement>(`video[aria-label="${label}"]`);
    if (self) self.srcObject = stream;
  }
}

/**
 * In the page: the caller offers and gathers all its candidates (the ringing, not timed), then
 * the callee "accepts": the probe marks Accept and the callee creates its connection, applies the
 * offer and the caller's candidates, answers, and the answer goes straight to the caller. Its
 * candidates reach the caller as it gathers them. Resolves once the answer is applied; the
 * media then starts on its own.
 */
async function floorCall({ labels, firstFramesMaxHeight }: { labels: { caller: string; callee: string }; firstFramesMaxHeight: number | null }): Promise<void> {
  const w = window as unknown as FloorWindow;
  // As the SDK does before its first connection (only the first frames are measured, so the
  // later return to full size does not matter here).
  const startSmall = async (pc: RTCPeerConnection) => {
    if (firstFramesMaxHeight === null) return;
    if (!w.__limitVideoHeight) throw new Error("the floor page has no limitVideoHeight");
    await w.__limitVideoHeight(pc.getSenders(), firstFramesMaxHeight);
  };
  const config: RTCConfiguration = { iceServers: [], bundlePolicy: "max-bundle" };
  const video = (label: string) => {
    const element = document.querySelector<HTMLVideoElement>(`video[aria-label="${label}"]`);
    if (!element) throw new Error(`no video "${label}"`);
    return element;
  };
  const show = (element: HTMLVideoElement) => (event: RTCTrackEvent) => {
    const stream = event.streams[0];
    if (stream && element.srcObject !== stream) element.srcObject = stream;
  };

  const caller = new RTCPeerConnection(config);
  w.__pcs.push(caller);
  caller.ontrack = show(video(labels.caller));
  const callerCandidates: RTCIceCandidate[] = [];
  const gathered = new Promise<void>((resolve) => {
    caller.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate !== "") callerCandidates.push(candidate);
      else resolve();
    };
  });
  for (const track of w.__callerStream.getTracks()) caller.addTrack(track, w.__callerStream);
  await caller.setLocalDescription(await caller.createOffer());
  await startSmall(caller);
  const offer = caller.localDescription;
  if (!offer) throw new Error("the caller has no offer");
  await gathered;

  w.__b4.mark();
  const callee = new RTCPeerConnection(config);
  w.__pcs.push(callee);
  callee.ontrack = show(video(labels.callee));
  const added: Promise<void>[] = [];
  callee.onicecandidate = ({ candidate }) => {
    if (candidate && candidate.candidate !== "") added.push(caller.addIceCandidate(candidate));
  };
  await callee.setRemoteDescription(offer);
  for (const candidate of callerCandidates) added.push(callee.addIceCandidate(candidate));
  for (const track of w.__calleeStream.getTracks()) callee.addTrack(track, w.__calleeStream);
  await callee.setLocalDescription(await callee.createAnswer());
  // Beside the answer's way to the caller, as the SDK does it.
  const calleeSmall = startSmall(callee);
  const answer = callee.localDescription;
  if (!answer) throw new Error("the callee has no answer");
  await caller.setRemoteDescription(answer);
  await Promise.all([...added, calleeSmall]);
}

/** In the page: closes both connections and clears both videos. */
function endFloorCall(labels: string[]): void {
  const w = window as unknown as FloorWindow;
  for (const pc of w.__pcs.splice(0)) pc.close();
  for (const label of labels) {
    const element = document.querySelector<HTMLVideoElement>(`video[aria-label="${label}"]`);
    if (element) element.srcObject = null;
  }
}

async function oneCall(page: Page, timeoutMs: number, firstFramesMaxHeight: number | null) {
  await resetProbe(page);
  await page.evaluate(floorCall, { labels: { caller: CALLER_VIDEO, callee: CALLEE_VIDEO }, firstFramesMaxHeight });
  await waitFrames(page, [CALLER_VIDEO, CALLEE_VIDEO], timeoutMs);
  const [record, video] = await Promise.all([readProbe(page), readVideoStats(page)]);
  const acceptAt = record.accepts[0];
  if (acceptAt === undefined) throw new Error("the floor page did not mark Accept");
  // The caller's connection was created first (index 0), the callee's second.
  const timing = callTiming(acceptAt, { record, label: CALLER_VIDEO, pc: 0, video }, { record, label: CALLEE_VIDEO, pc: 1, video });
  await page.evaluate(endFloorCall, [CALLER_VIDEO, CALLEE_VIDEO]);
  return timing;
}

/**
 * `firstFrames`: each side's video starts at most FIRST_FRAMES.maxHeight high, as the SDK
 * sends it; without, the browser's defaults (the floor B4 is judged against).
 */
export async function runFloor(plan: CallPlan, assets: AssetServer, firstFrames = false): Promise<SystemRun> {
  let browser: Browser | undefined;
  try {
    browser = await launchBrowser();
    const { page } = await probedPage(browser, FLOOR_VIEWPORT);
    if (firstFrames) await page.addInitScript({ content: `window.__limitVideoHeight = ${limitVideoHeight.toString()};` });
    await page.goto(`${assets.url}/floor.html`);
    await page.evaluate(openStreams, MEDIA_CONSTRAINTS);
    const maxHeight = firstFrames ? FIRST_FRAMES.maxHeight : null;
    return await loop(firstFrames ? "floor, first frames as the SDK's" : "floor", plan, () => oneCall(page, plan.stepTimeoutMs, maxHeight));
  } finally {
    await browser?.close();
  }
}
