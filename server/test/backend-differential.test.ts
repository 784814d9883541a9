import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EndReason } from "@peertobeer/protocol";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import type { JoinedFactory, SessionHandle, SignalingBackend } from "../src/bus/backend.js";
import { MemoryBackend } from "../src/bus/memory.js";
import { RedisBackend } from "../src/bus/redis.js";
import { HubError, type HubOptions } from "../src/hub/index.js";
import { CollectingSink, iceCandidate, SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER } from "./helpers.js";

/*
 * The Redis backend states the hub's rules a second time, in Lua. This runs random sequences
 * of operations against both (the Redis one as two nodes, users spread over them) and requires
 * the same answer to every operation and the same events, in the same order and numbering,
 * for every user.
 */

const OPTIONS: HubOptions = {
  // Long enough that no timer (nor a heartbeat) fires during a run: timers are the contract suite's business.
  ringTimeoutMs: 600_000,
  sessionGraceMs: 600_000,
  heartbeatMs: 600_000,
  historyLimit: { events: 512, bytes: 1024 * 1024 },
  maxCallParticipants: 6,
};
const USERS = ["u0", "u1", "u2", "u3"] as const;

type Op =
  | { kind: "call"; from: number; to: number }
  | { kind: "answer" | "candidates" | "reoffer"; from: number; call: number }
  | { kind: "hangUp"; from: number; call: number; reason: EndReason }
  | { kind: "rejoin"; user: number };

const user = fc.nat(USERS.length - 1);
const slot = fc.nat(7);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("call" as const), from: user, to: user }),
  fc.record({ kind: fc.constantFrom("answer" as const, "candidates" as const, "reoffer" as const), from: user, call: slot }),
  fc.record({ kind: fc.constant("hangUp" as const), from: user, call: slot, reason: fc.constantFrom(EndReason.HANGUP, EndReason.BUSY, EndReason.ERROR, EndReason.CONNECT_FAILED) }),
  fc.record({ kind: fc.constant("rejoin" as const), user }),
);

const joined: JoinedFactory = (session, resumed, onlineUserIds) => ({ sessionId: session.id, resumed, onlineUserIds });

/** One deployment under test: its users' sessions, what they received, and its call ids by order of creation. */
class Side {
  readonly sessions: SessionHandle[] = [];
  readonly sinks: CollectingSink[] = [];
  readonly calls: string[] = [];

  constructor(readonly nodeOf: (userIndex: number) => SignalingBackend) {}

  async joinAll(): Promise<void> {
    for (const [index] of USERS.entries()) await this.join(index);
  }

  async join(index: number): Promise<void> {
    const sink = new CollectingSink();
    this.sinks[index] = sink;
    this.sessions[index] = await this.nodeOf(index).join({ userId: USERS[index]!, watchPresence: index === 0 }, sink, joined);
  }

  async apply(step: Op): Promise<string> {
    const node = this.nodeOf(step.kind === "rejoin" ? step.user : step.from);
    const callId = (index: number) => this.calls[index % Math.max(1, this.calls.length)] ?? "no-call";
    try {
      switch (step.kind) {
        case "call":
          this.calls.push(await node.offer(this.sessions[step.from]!, { toUserId: USERS[step.to]!, callId: "", sdp: SAMPLE_OFFER }));
          return "ok";
        case "answer":
          await node.answer(this.sessions[step.from]!, callId(step.call), SAMPLE_ANSWER, [], true);
          return "ok";
        case "candidates":
          await node.candidates(this.sessions[step.from]!, callId(step.call), [iceCandidate(SAMPLE_CANDIDATE)], false);
          return "ok";
        case "reoffer":
          await node.offer(this.sessions[step.from]!, { toUserId: "", callId: callId(step.call), sdp: SAMPLE_OFFER });
          return "ok";
        case "hangUp":
          return `ok ${EndReason[await node.hangUp(this.sessions[step.from]!, callId(step.call), step.reason)]}`;
        case "rejoin":
          node.streamEnded(this.sessions[step.user]!, this.sinks[step.user]!);
          await this.join(step.user);
          return "ok";
      }
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      const glareCall = error.callId === undefined ? "" : ` call ${this.calls.indexOf(error.callId)}`;
      return `${error.kind} ${error.reason}${glareCall}`;
    }
  }

  /** What each user received, with call ids as their order of creation. */
  view(): unknown[][] {
    return this.sinks.map((sink) =>
      sink.messages.map((m) => {
        const { case: kind, value } = m.event;
        const detail =
          kind === "offer" ? { polite: value.polite, renegotiation: value.renegotiation }
          : kind === "answer" ? { polite: value.polite }
          : kind === "callEnded" ? { reason: value.reason, by: value.endedByUserId }
          : kind === "presence" ? { user: value.userId, online: value.online }
          : kind === "iceCandidates" ? { candidates: value.candidates.length }
          : {};
        return { seq: m.seq, kind, from: m.fromUserId, call: m.callId === "" ? -1 : this.calls.indexOf(m.callId), ...detail };
      }),
    );
  }
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

describe("the Redis backend against the in-memory hub", () => {
  it("answers every random sequence of operations as the hub does, with the same events for everyone", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (steps) => {
        const memory = new MemoryBackend(OPTIONS);
        const options = { ...OPTIONS, url: redis.url, prefix: `d${randomUUID().slice(0, 8)}` };
        const nodes = await Promise.all([RedisBackend.connect(options), RedisBackend.connect(options)]);
        try {
          const expected = new Side(() => memory);
          const actual = new Side((index) => nodes[index % 2]!);
          await expected.joinAll();
          await actual.joinAll();
          for (const step of steps) {
            expect(await actual.apply(step), JSON.stringify(step)).toBe(await expected.apply(step));
            // Memory delivers at once; Redis through pub/sub: wait until as many have arrived.
            await vi.waitFor(() => expect(actual.sinks.map((s) => s.messages.length)).toEqual(expected.sinks.map((s) => s.messages.length)), {
              timeout: 2_000,
              interval: 5,
            });
          }
          expect(actual.view()).toEqual(expected.view());
        } finally {
          await memory.close();
          await Promise.all(nodes.map((node) => node.close()));
        }
      }),
      { numRuns: 60 },
    );
  });
});
