/** What the three B4 systems share: the browser, probed pages, and turning records into timings. */
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import {
  installProbe,
  NAME_SHIM,
  type FrameMark,
  type PcEvent,
  type ProbeRecord,
  type ProbeWindow,
  type VideoStats,
} from "./probe.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../../test/support/chromium.js";

/** The app's own getUserMedia constraints, used by the other pages too. */
export { MEDIA_CONSTRAINTS } from "../../web/src/lib/media.js";

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A new browser context whose pages carry the probe; returns its first page, not yet navigated. */
export async function probedPage(
  browser: Browser,
  viewport?: { width: number; height: number },
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  await context.addInitScript(NAME_SHIM);
  await context.addInitScript(installProbe);
  const page = await context.newPage();
  return { context, page };
}

export function resetProbe(page: Page): Promise<void> {
  return page.evaluate(() => (window as unknown as ProbeWindow).__b4.reset());
}

export function readProbe(page: Page): Promise<ProbeRecord> {
  return page.evaluate(() => (window as unknown as ProbeWindow).__b4.record());
}

export function readVideoStats(page: Page): Promise<VideoStats[]> {
  return page.evaluate(() => (window as unknown as ProbeWindow).__b4.videoStats());
}

export function waitFrames(page: Page, labels: string[], timeoutMs: number): Promise<void> {
  return page.evaluate(
    ({ labels, timeoutMs }) => (window as unknown as ProbeWindow).__b4.waitFrames(labels, timeoutMs),
    { labels, timeoutMs },
  );
}

export function waitMedia(page: Page, count: number, timeoutMs: number): Promise<void> {
  return page.evaluate(
    ({ count, timeoutMs }) => (window as unknown as ProbeWindow).__b4.waitMedia(count, timeoutMs),
    { count, timeoutMs },
  );
}

/** Milliseconds after Accept at which each step of a call was first seen (NaN: not seen). */
export interface Phases {
  /** The callee's peer connection exists. */
  calleePc: number;
  /** The callee set its answer (signaling state back to stable). */
  calleeAnswerSet: number;
  /** The caller applied the answer. */
  callerAnswerSet: number;
  calleeIceConnected: number;
  callerIceConnected: number;
  /** Peer connection `connected` (ICE and DTLS done). */
  calleeConnected: number;
  callerConnected: number;
  /** The last packet of the first frame arrived (requestVideoFrameCallback's receiveTime). */
  calleeFrameReceived: number;
  callerFrameReceived: number;
  calleeFrame: number;
  callerFrame: number;
}

export const PHASES: (keyof Phases)[] = [
  "calleePc",
  "calleeAnswerSet",
  "callerAnswerSet",
  "calleeIceConnected",
  "callerIceConnected",
  "calleeConnected",
  "callerConnected",
  "calleeFrameReceived",
  "callerFrameReceived",
  "calleeFrame",
  "callerFrame",
];

export interface CallTiming {
  /** How long the callee's phone rang before Accept (0: Accept as soon as the call showed). */
  ringMs: number;
  /** Accept → first remote frame presented on the side that got it last: the B4 sample. */
  ms: number;
  /** The same on each side. */
  callerMs: number;
  calleeMs: number;
  /** Accept, epoch ms (performance.timeOrigin + performance.now() in the callee's page). */
  acceptAt: number;
  /** Size of the first frame each side showed. */
  callerFrameSize: string;
  calleeFrameSize: string;
  phases: Phases;
  /** Each side's video counters just after both first frames (keyframes, keyframe requests…). */
  callerVideo: VideoStats | undefined;
  calleeVideo: VideoStats | undefined;
}

/** One side of a call: where its records are and which of them are its own. */
export interface Side {
  record: ProbeRecord;
  /** aria-label of its remote video. */
  label: string;
  /** Index of its peer connection among those its page created in this generation. */
  pc: number;
  /** Its page's video counters, read after both first frames. */
  video: VideoStats[];
}

function firstFrame(side: Side): FrameMark {
  const frames = side.record.frames.filter((frame) => frame.label === side.label);
  const first = frames.reduce<FrameMark | undefined>((best, frame) => (!best || frame.at < best.at ? frame : best), undefined);
  if (!first) throw new Error(`no frame recorded on "${side.label}"`);
  return first;
}

function firstEvent(side: Side, match: (event: PcEvent) => boolean): number {
  const event = side.record.pcs.find((e) => e.pc === side.pc && match(e));
  return event ? event.at : Number.NaN;
}

/**
 * Turns one call's records into its timing. `acceptAt` is the Accept time (epoch ms), after
 * the phone rang `ringMs`.
 */
export function callTiming(acceptAt: number, ringMs: number, caller: Side, callee: Side): CallTiming {
  const callerFrame = firstFrame(caller);
  const calleeFrame = firstFrame(callee);
  const since = (at: number) => at - acceptAt;
  const stable = (e: PcEvent) => e.kind === "signaling" && e.state === "stable";
  const ice = (e: PcEvent) => e.kind === "ice" && (e.state === "connected" || e.state === "completed");
  const connected = (e: PcEvent) => e.kind === "connection" && e.state === "connected";
  const phases: Phases = {
    calleePc: since(firstEvent(callee, (e) => e.kind === "created")),
    calleeAnswerSet: since(firstEvent(callee, stable)),
    callerAnswerSet: since(firstEvent(caller, stable)),
    calleeIceConnected: since(firstEvent(callee, ice)),
    callerIceConnected: since(firstEvent(caller, ice)),
    calleeConnected: since(firstEvent(callee, connected)),
    callerConnected: since(firstEvent(caller, connected)),
    calleeFrameReceived: since(calleeFrame.receiveAt ?? Number.NaN),
    callerFrameReceived: since(callerFrame.receiveAt ?? Number.NaN),
    calleeFrame: since(calleeFrame.at),
    callerFrame: since(callerFrame.at),
  };
  return {
    ringMs,
    ms: Math.max(phases.callerFrame, phases.calleeFrame),
    callerMs: phases.callerFrame,
    calleeMs: phases.calleeFrame,
    acceptAt,
    callerFrameSize: `${callerFrame.width}x${callerFrame.height}`,
    calleeFrameSize: `${calleeFrame.width}x${calleeFrame.height}`,
    phases,
    callerVideo: caller.video.find((stats) => stats.pc === caller.pc),
    calleeVideo: callee.video.find((stats) => stats.pc === callee.pc),
  };
}

/** How one system's calls went; `calls` are the measured ones, after `warmup`. */
export interface SystemRun {
  warmup: CallTiming[];
  calls: CallTiming[];
  errors: string[];
}

export interface CallPlan {
  warmup: number;
  /** Measured calls with Accept at once, and as many again after ringing (RING_MS). */
  calls: number;
  stepTimeoutMs: number;
  log: (line: string) => void;
}

/** How long a person lets the phone ring before Accept, when they do not pick up at once. */
export const RING_MS = { min: 1_000, max: 3_000 } as const;

/**
 * How long call `index` of a run rings before Accept. Warm-up calls and every other measured
 * call are accepted at once; the others ring for RING_MS, spread evenly over it by the golden
 * ratio's low-discrepancy sequence, so every system gets the same delays in the same order.
 */
export function ringBefore(index: number, warmup: number): number {
  const measured = index - warmup;
  if (measured < 0 || measured % 2 === 0) return 0;
  const k = (measured - 1) / 2;
  const spread = (k * 0.6180339887498949) % 1;
  return Math.round(RING_MS.min + spread * (RING_MS.max - RING_MS.min));
}

/** Resolves after `ms`: a person letting the phone ring, not a wait on a condition. */
export function ring(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The timing of a call between two pages that each show the other's video as `label` (the
 * callee's page marked Accept); `noAccept` explains a call whose Accept was never seen.
 */
export async function twoPageTiming(caller: Page, callee: Page, label: string, ringMs: number, noAccept: string): Promise<CallTiming> {
  const [callerRecord, calleeRecord, callerVideo, calleeVideo] = await Promise.all([
    readProbe(caller),
    readProbe(callee),
    readVideoStats(caller),
    readVideoStats(callee),
  ]);
  const acceptAt = calleeRecord.accepts[0];
  if (acceptAt === undefined) throw new Error(noAccept);
  return callTiming(
    acceptAt,
    ringMs,
    { record: callerRecord, label, pc: 0, video: callerVideo },
    { record: calleeRecord, label, pc: 0, video: calleeVideo },
  );
}

/**
 * Runs `once` for every warm-up and measured call (alternating Accept at once and after a ring,
 * ringBefore), collecting timings; the first failure ends the loop (the pages are in an unknown
 * state) and is reported in `errors`.
 */
export async function loop(name: string, plan: CallPlan, once: (ringMs: number) => Promise<CallTiming>): Promise<SystemRun> {
  const run: SystemRun = { warmup: [], calls: [], errors: [] };
  const total = plan.warmup + 2 * plan.calls;
  for (let i = 0; i < total; i++) {
    try {
      const timing = await once(ringBefore(i, plan.warmup));
      (i < plan.warmup ? run.warmup : run.calls).push(timing);
    } catch (error) {
      run.errors.push(`call ${i + 1} of ${total}: ${errorText(error)}`);
      plan.log(`  B4 ${name}: call ${i + 1} failed: ${run.errors.at(-1) ?? ""}`);
      break;
    }
  }
  return run;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Console errors of a page, kept for failure messages. */
export function collectPageErrors(page: Page, into: string[], tag: string): void {
  page.on("pageerror", (error) => into.push(`[${tag}] pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") into.push(`[${tag}] console: ${message.text()}`);
  });
}

export type { Page };
