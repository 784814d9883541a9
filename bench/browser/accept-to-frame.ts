/**
 * B4: Accept → first decoded remote frame on both sides, in real Chromium (fake camera and
 * microphone), for four systems in turn, each in a fresh browser and over the same number of
 * calls:
 *
 * - ours: the app on server/src/main.ts, two contexts, clicking Call, Accept and Hang up;
 * - PeerJS: the peerjs client against the `peer` server, two contexts, answering on 'call';
 * - floor: one page, two RTCPeerConnections, signaling by direct calls;
 * - floorFirstFrames: the same floor, its video starting small as the SDK's does (FIRST_FRAMES).
 *
 * Accept is taken inside the callee's page (performance.now() in a capturing click listener on
 * the Accept button, or where the page answers in code); a side's first frame is the
 * presentationTime of the first requestVideoFrameCallback on its remote <video>. All times are
 * epoch ms (performance.timeOrigin + performance.now()), comparable across pages of one browser.
 * A call's sample is max(caller's first frame, callee's first frame) − Accept. See
 * docs/BENCHMARKS.md.
 */
import { percentile } from "../lib/stats.js";
import { startAssetServer } from "./assets.js";
import { errorText, launchBrowser, PHASES, type CallPlan, type CallTiming, type Phases, type SystemRun } from "./common.js";
import { runFloor } from "./floor.js";
import { runOurs } from "./ours.js";
import { runPeerjs } from "./peerjs.js";

/** "floorFirstFrames": the floor with each side's first frames sent as the SDK sends them. */
export type B4System = "ours" | "peerjs" | "floor" | "floorFirstFrames";
export const B4_SYSTEMS: B4System[] = ["ours", "peerjs", "floor", "floorFirstFrames"];

export interface AcceptToFrameOptions {
  /** Measured calls per system. */
  calls: number;
  /** Calls per system before those, not measured (first call in a fresh browser). Default 1. */
  warmup?: number;
  /** Any one step (a click, a first frame…) slower than this fails the call. Default 20 s. */
  stepTimeoutMs?: number;
  log: (line: string) => void;
}

export interface Summary {
  count: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
}

export interface B4SystemResult extends SystemRun {
  system: B4System;
  /** Over the measured calls: the B4 sample (the later side), and each side alone. */
  summary: Summary;
  caller: Summary;
  callee: Summary;
  /** Median ms after Accept of each step (NaN where never seen). */
  phaseMedians: Phases;
}

export interface AcceptToFrameResult {
  browser: string;
  calls: number;
  warmup: number;
  systems: Record<B4System, B4SystemResult>;
}

export function summarize(samples: number[]): Summary {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
    meanMs: sorted.length ? sorted.reduce((sum, value) => sum + value, 0) / sorted.length : Number.NaN,
  };
}

function result(system: B4System, run: SystemRun): B4SystemResult {
  const calls = run.calls;
  const phaseMedians = {} as Phases;
  for (const phase of PHASES) phaseMedians[phase] = summarize(calls.map((call: CallTiming) => call.phases[phase])).p50Ms;
  return {
    system,
    ...run,
    summary: summarize(calls.map((call) => call.ms)),
    caller: summarize(calls.map((call) => call.callerMs)),
    callee: summarize(calls.map((call) => call.calleeMs)),
    phaseMedians,
  };
}

function describe(r: B4SystemResult): string {
  const s = r.summary;
  if (s.count === 0) return `no call measured (${r.errors[0] ?? "?"})`;
  const phases = r.phaseMedians;
  return (
    `p50 ${s.p50Ms.toFixed(0)} ms, p95 ${s.p95Ms.toFixed(0)} ms (min ${s.minMs.toFixed(0)}, max ${s.maxMs.toFixed(0)}) over ${s.count} calls; ` +
    `median answer set ${phases.calleeAnswerSet.toFixed(0)} / applied ${phases.callerAnswerSet.toFixed(0)}, ` +
    `connected ${phases.calleeConnected.toFixed(0)} / ${phases.callerConnected.toFixed(0)}, ` +
    `frames ${phases.calleeFrame.toFixed(0)} (callee) / ${phases.callerFrame.toFixed(0)} (caller) ms`
  );
}

/** Runs B4 for ours, PeerJS and the floor, one after the other; a failing system is reported, not thrown. */
export async function measureAcceptToFrame(options: AcceptToFrameOptions): Promise<AcceptToFrameResult> {
  const plan: CallPlan = {
    calls: options.calls,
    warmup: options.warmup ?? 1,
    stepTimeoutMs: options.stepTimeoutMs ?? 20_000,
    log: options.log,
  };
  const versionCheck = await launchBrowser();
  const browser = `Chromium ${versionCheck.version()}`;
  await versionCheck.close();

  const assets = await startAssetServer();
  const systems = {} as Record<B4System, B4SystemResult>;
  try {
    const runners: Record<B4System, () => Promise<SystemRun>> = {
      ours: () => runOurs(plan),
      peerjs: () => runPeerjs(plan, assets),
      floor: () => runFloor(plan, assets),
      floorFirstFrames: () => runFloor(plan, assets, true),
    };
    for (const system of B4_SYSTEMS) {
      let run: SystemRun;
      try {
        run = await runners[system]();
      } catch (error) {
        run = { warmup: [], calls: [], errors: [`setup failed: ${errorText(error)}`] };
      }
      systems[system] = result(system, run);
      options.log(`  B4 ${system}: ${describe(systems[system])}`);
    }
  } finally {
    await assets.close();
  }
  return { browser, calls: plan.calls, warmup: plan.warmup, systems };
}
