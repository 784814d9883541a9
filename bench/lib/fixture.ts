import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** One ICE candidate as RTCIceCandidate.toJSON() gives it. */
export interface FixtureCandidate {
  candidate: string;
  sdpMid: string | null;
  sdpMLineIndex: number | null;
  usernameFragment: string | null;
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
    (c.usernameFragment === null || typeof c.usernameFragment === "string")
  );
}
