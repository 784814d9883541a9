import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CANDIDATE_TIMING } from "@peertobeer/client";

/** One ICE candidate as RTCIceCandidate.toJSON() gives it, and when it was gathered. */
export interface FixtureCandidate {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
  usernameFragment: string | null;
  /** Milliseconds after the side's setLocalDescription() resolved (negative: before). */
  atMs: number;
}

/** What the signaling of one real Chromium call carries (bench/capture-fixture.ts writes it). */
export interface CallFixture {
  capturedAt: string;
  browser: string;
  userAgent: string;
  setup: string;
  offer: { type: "offer"; sdp: string };
  answer: { type: "answer"; sdp: string };
  callerCandidates: FixtureCandidate[];
  calleeCandidates: FixtureCandidate[];
  /** When each side's gathering ended (the null candidate), ms after its setLocalDescription() resolved. */
  callerEndAtMs: number;
  calleeEndAtMs: number;
}

/** Candidates that go out in one message; the first burst rides with the offer or answer. */
export interface Burst {
  candidates: FixtureCandidate[];
  endOfCandidates: boolean;
}

/**
 * Splits one side's candidates into the bursts the SDK sends (packages/client PeerCall, with its
 * CANDIDATE_TIMING): the description waits for the end of gathering up to `descriptionWaitMs`
 * and takes what was gathered by then; a later candidate opens a `batchMs` window, and the end of
 * gathering flushes at once.
 */
export function burstsOf(
  candidates: FixtureCandidate[],
  endAtMs: number,
  descriptionWaitMs: number,
  batchMs: number = CANDIDATE_TIMING.batchMs,
): Burst[] {
  const bursts: Burst[] = [];
  let current: Burst = { candidates: [], endOfCandidates: false };
  let deadline: number | undefined = descriptionWaitMs;
  const flushIfPast = (at: number) => {
    if (deadline === undefined || at <= deadline) return;
    bursts.push(current);
    current = { candidates: [], endOfCandidates: false };
    deadline = undefined;
  };
  for (const candidate of [...candidates].sort((a, b) => a.atMs - b.atMs)) {
    flushIfPast(candidate.atMs);
    deadline ??= candidate.atMs + batchMs;
    current.candidates.push(candidate);
  }
  flushIfPast(endAtMs);
  current.endOfCandidates = true;
  bursts.push(current);
  return bursts;
}

/**
 * How long the callee rings before Accept, at least, for the bench's model of a call: its answer,
 * prepared while it rings, goes on Accept with every candidate gathered by then.
 */
export const RING_MS = 1_000;

/** The bursts each side of the fixture's call sends: the caller's first offer, the callee's held answer. */
export function callBursts(fixture: Pick<CallFixture, "callerCandidates" | "calleeCandidates" | "callerEndAtMs" | "calleeEndAtMs">) {
  return {
    caller: burstsOf(fixture.callerCandidates, fixture.callerEndAtMs, CANDIDATE_TIMING.firstOfferWaitMs),
    callee: burstsOf(fixture.calleeCandidates, fixture.calleeEndAtMs, RING_MS),
  };
}

export const FIXTURE_PATH = fileURLToPath(new URL("../fixtures/chromium-call.json", import.meta.url));

export function loadFixture(path = FIXTURE_PATH): CallFixture {
  const parsed: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (!isFixture(parsed)) throw new Error(`${path} is not a call fixture; recapture it with bench/capture-fixture.ts`);
  return parsed;
}

function isFixture(value: unknown): value is CallFixture {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<CallFixture>;
  return (
    typeof v.offer?.sdp === "string" &&
    typeof v.answer?.sdp === "string" &&
    Array.isArray(v.callerCandidates) &&
    Array.isArray(v.calleeCandidates) &&
    typeof v.callerEndAtMs === "number" &&
    typeof v.calleeEndAtMs === "number" &&
    [...v.callerCandidates, ...v.calleeCandidates].every((c: unknown) => isCandidate(c))
  );
}

function isCandidate(value: unknown): value is FixtureCandidate {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c.candidate === "string" &&
    (c.sdpMid === null || typeof c.sdpMid === "string") &&
    (c.sdpMLineIndex === null || typeof c.sdpMLineIndex === "number") &&
    (c.usernameFragment === null || typeof c.usernameFragment === "string") &&
    typeof c.atMs === "number"
  );
}
