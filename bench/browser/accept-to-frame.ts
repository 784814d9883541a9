/**
 * B4: Accept → first remote frame presented on both sides, in real Chromium (fake camera and
 * microphone), for three systems in turn, each in a fresh browser and over the same calls:
 *
 * - ours: the app on server/src/main.ts, two contexts, clicking Call, Accept and Hang up;
 * - PeerJS: the peerjs client against the `peer` server, two contexts, answering on 'call';
 * - floor: two contexts, one RTCPeerConnection each, the bench handing descriptions over, video
 *   starting small as the SDK's does (FIRST_FRAMES): the like-for-like floor B4 is judged on.
 *
 * Every system's measured calls alternate between Accept as soon as the call shows and Accept
 * after the phone rang 1–3 s (RING_MS; the same delays in the same order for every system).
 * Accept is taken inside the callee's page (performance.now() in a capturing click listener on
 * the Accept button, or where the page answers in code); a side's first frame is the
 * presentationTime of the first requestVideoFrameCallback on its remote <video>: the moment
 * the frame was handed to the compositor to be shown. All times are epoch ms
 * (performance.timeOrigin + performance.now()), comparable across pages of one browser.
 * A call's sample is max(caller's first frame, callee's first frame) − Accept. See
 * docs/BENCHMARKS.md.
 */
import { percentile } from "../lib/stats.js";
import { startAssetServer } from "./assets.js";
import { errorText, launchBrowser, PHASES, type CallPlan, type CallTiming, type Phases, type SystemRun } from "./common.js";
import { runFloor } from "./floor.js";
import { runOurs } from "./ours.js";
import { runPeerjs } from "./peerjs.js";

export type B4System = "ours" | "peerjs" | "floor";
export const B4_SYSTEMS: B4System[] = ["ours", "peerjs", "floor"];

/** How Accept came: as soon as the call showed, or after the phone rang 1–3 s. */
export type AcceptTiming = "atOnce" | "ringing";
export const ACCEPT_TIMINGS: AcceptTiming[] = ["atOnce", "ringing"];

export interface AcceptToFrameOptions {
  /** Measured calls per system and per Accept timing. */
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

/** One Accept timing's calls of a system, summarized. */
export interface B4Series {
  /** Over the calls: the B4 sample (the later side), and each side alone. */
  summary: Summary;
  /** The caller's first frame of the callee, and the callee's of the caller. */
  caller: Summary;
  callee: Summary;
  /** Median ms after Accept of each step (NaN where never seen). */
  phaseMedians: Phases;
}

export interface B4SystemResult extends SystemRun {
  system: B4System;
  series: Record<AcceptTiming, B4Series>;
}

export interface AcceptToFrameResult {
  browser: string;
  /** Measured calls per system and per Accept timing. */
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

export function acceptTiming(call: CallTiming): AcceptTiming {
  return call.ringMs > 0 ? "ringing" : "atOnce";
}

function series(calls: CallTiming[]): B4Series {
  const phaseMedians = {} as Phases;
  for (const phase of PHASES) phaseMedians[phase] = summarize(calls.map((call) => call.phases[phase])).p50Ms;
  return {
    summary: summarize(calls.map((call) => call.ms)),
    caller: summarize(calls.map((call) => call.callerMs)),
    callee: summarize(calls.map((call) => call.calleeMs)),
    phaseMedians,
  };
}

function result(system: B4System, run: SystemRun): B4SystemResult {
  const of = (timing: AcceptTiming) => series(run.calls.filter((call) => acceptTiming(call) === timing));
  return { system, ...run, series: { atOnce: of("atOnce"), ringing: of("ringing") } };
}

function describe(timing: AcceptTiming, r: B4Series): string {
  const s = r.summary;
  if (s.count === 0) return `${timing}: no call measured`;
  const phases = r.phaseMedians;
  return (
    `${timing}: p50 ${s.p50Ms.toFixed(0)} ms, p95 ${s.p95Ms.toFixed(0)} ms (min ${s.minMs.toFixed(0)}, max ${s.maxMs.toFixed(0)}) over ${s.count} calls; ` +
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
    };
    for (const system of B4_SYSTEMS) {
      let run: SystemRun;
      try {
        run = await runners[system]();
      } catch (error) {
        run = { warmup: [], calls: [], errors: [`setup failed: ${errorText(error)}`] };
      }
      systems[system] = result(system, run);
      if (run.errors.length > 0) options.log(`  B4 ${system}: ${run.errors[0] ?? ""}`);
      for (const timing of ACCEPT_TIMINGS) options.log(`  B4 ${system} ${describe(timing, systems[system].series[timing])}`);
    }
  } finally {
    await assets.close();
  }
  return { browser, calls: plan.calls, warmup: plan.warmup, systems };
}
