import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { EndReason } from "@peertobeer/protocol";
import { Redis } from "ioredis";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import type { JoinedFactory, SessionHandle, SignalingBackend } from "../src/bus/backend.js";
import { MemoryBackend } from "../src/bus/memory.js";
import { RedisBackend } from "../src/bus/redis.js";
import { HubError, type HubOptions, type HubSnapshot } from "../src/hub/index.js";
import { CollectingSink, iceCandidate, SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER } from "./helpers.js";

/*
 * The Redis backend states the hub's rules a second time, in Lua. This runs random sequences
 * of operations against both (the Redis one as two nodes, users spread over them) and requires
 * the same answer to every operation and the same events, in the same order and numbering,
 * for every user; at the end, the same calls (state, participants, invitations), the same
 * user-to-call index, the same counts of calls by state and the same metrics (calls ended by
 * reason, calls accepted).
 *
 * Group calls: an offer with a call id to anyone (a renegotiation to someone linked, an
 * invitation to someone outside the call, or a refusal), answers and candidates addressed to
 * anyone or to nobody, and leaving (hang-up, or a rejoin ending the old session as PEER_GONE).
 * Five users and calls of at most four, so a call can fill up.
 */

const OPTIONS: HubOptions = {
  // Long enough that no timer (nor a heartbeat) fires during a run: timers are the contract suite's business.
  ringTimeoutMs: 600_000,
  sessionGraceMs: 600_000,
  heartbeatMs: 600_000,
  historyLimit: { events: 512, bytes: 1024 * 1024 },
  maxCallParticipants: 4,
};
const USERS = ["u0", "u1", "u2", "u3", "u4"] as const;

/**
 * `to`: whom an answer or candidates name (-1: nobody, the sender's one link). `role`: most
 * steps take their sender from the hub's state rather than at random (a random sequence would
 * seldom reach a third person joining): `from` then picks among the people who may plausibly
 * send it (someone being rung answers, a participant of an active call invites, someone in a
 * call relays or leaves), in that person's call; when nobody could, someone starts a call.
 */
type Op =
  | { kind: "call"; from: number; to: number }
  | { kind: "answer" | "candidates"; from: number; call: number; to: number; role?: boolean; ringing?: boolean }
  | { kind: "reoffer"; from: number; call: number; role?: boolean }
  | { kind: "invite"; from: number; call: number; to: number; role?: boolean }
  | { kind: "hangUp"; from: number; call: number; reason: EndReason; role?: boolean }
  | { kind: "rejoin"; user: number };

const user = fc.nat(USERS.length - 1);
/** Which call an operation is about: -1 the sender's current one (if any), -2 the latest, else by order of creation. */
const slot = fc.oneof({ arbitrary: fc.constant(-1), weight: 6 }, { arbitrary: fc.constant(-2), weight: 1 }, { arbitrary: fc.nat(7), weight: 1 });
const addressee = fc.oneof({ arbitrary: fc.constant(-1), weight: 2 }, { arbitrary: user, weight: 3 });
const role = fc.nat(3).map((n) => n !== 0);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("call" as const), from: user, to: user }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant("answer" as const), from: fc.nat(7), call: slot, to: addressee, role, ringing: fc.nat(3).map((n) => n === 0) }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant("candidates" as const), from: fc.nat(7), call: slot, to: addressee, role }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("reoffer" as const), from: fc.nat(7), call: slot, role }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant("invite" as const), from: fc.nat(7), call: slot, to: user, role }), weight: 4 },
  {
    arbitrary: fc.record({
      kind: fc.constant("hangUp" as const),
      from: fc.nat(7),
      call: slot,
      reason: fc.constantFrom(EndReason.HANGUP, EndReason.BUSY, EndReason.ERROR, EndReason.CONNECT_FAILED),
      role,
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant("rejoin" as const), user }), weight: 1 },
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

  /**
   * The step with its sender (for `role`) and "the sender's current call" chosen from the hub's
   * state; both sides then apply the very same step.
   */
  concrete(random: Op, memory: MemoryBackend): Op {
    if (!("call" in random)) return random;
    const calls = memory.hub.snapshot().calls;
    let step = { ...random, from: random.from % USERS.length };
    if (random.role) {
      const senders = calls.flatMap((c) => {
        const members =
          step.kind === "answer" ? c.invited
          : step.kind === "invite" ? (c.state === "active" ? c.participants : [])
          : [...c.participants, ...c.invited];
        return members.map((id) => ({ from: USERS.indexOf(id as (typeof USERS)[number]), call: this.calls.indexOf(c.id) }));
      });
      const sender = senders[random.from % Math.max(1, senders.length)];
      // Nobody could: something that moves towards a group call instead.
      if (!sender) return random.kind === "hangUp" ? step : this.progress(calls, random.from);
      step = { ...step, ...sender };
      // Someone being rung mostly accepts (names nobody: their inviter).
      if (step.kind === "answer" && step.to % 3 !== 0) step = { ...step, to: -1 };
    }
    if (step.call !== -1) return step;
    const userId = USERS[step.from]!;
    const own = calls.find((c) => c.participants.includes(userId) || c.invited.includes(userId));
    return { ...step, call: own ? this.calls.indexOf(own.id) : -2 };
  }

  /** Someone rung for a 1:1 call accepts it, or else two people in no call start one. */
  private progress(calls: HubSnapshot["calls"], pick: number): Op {
    const ringing = calls.find((c) => c.state === "ringing");
    if (ringing) return { kind: "answer", from: USERS.indexOf(ringing.callee as (typeof USERS)[number]), call: this.calls.indexOf(ringing.id), to: -1 };
    const busy = new Set(calls.flatMap((c) => [...c.participants, ...c.invited]));
    const free = USERS.flatMap((id, index) => (busy.has(id) ? [] : [index]));
    if (free.length < 2) return { kind: "reoffer", from: pick % USERS.length, call: -2 };
    const from = free[pick % free.length]!;
    return { kind: "call", from, to: free[(pick + 1) % free.length]! };
  }

  async apply(step: Op): Promise<string> {
    const node = this.nodeOf(step.kind === "rejoin" ? step.user : step.from);
    // A negative index (left after concrete()) is the latest call.
    const callId = (index: number) => (index < 0 ? this.calls.at(-1) : this.calls[index % Math.max(1, this.calls.length)]) ?? "no-call";
    const to = (index: number) => (index < 0 ? "" : USERS[index]!);
    try {
      switch (step.kind) {
        case "call":
          this.calls.push(await node.offer(this.sessions[step.from]!, { toUserId: USERS[step.to]!, callId: "", sdp: SAMPLE_OFFER }));
          return "ok";
        case "answer":
          // A ringing answer (AnswerRequest.ringing) carries no end of candidates.
          await node.answer(this.sessions[step.from]!, { callId: callId(step.call), sdp: SAMPLE_ANSWER, endOfCandidates: step.ringing !== true, toUserId: to(step.to), ringing: step.ringing === true });
          return "ok";
        case "candidates":
          await node.candidates(this.sessions[step.from]!, callId(step.call), [iceCandidate(SAMPLE_CANDIDATE)], false, to(step.to));
          return "ok";
        case "invite":
          await node.offer(this.sessions[step.from]!, { toUserId: USERS[step.to]!, callId: callId(step.call), sdp: SAMPLE_OFFER });
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
          kind === "offer" ? { polite: value.polite, renegotiation: value.renegotiation, participants: value.participantUserIds }
          : kind === "answer" ? { polite: value.polite, ringing: value.ringing }
          : kind === "callEnded" ? { reason: value.reason, by: value.endedByUserId }
          : kind === "presence" ? { user: value.userId, online: value.online }
          : kind === "iceCandidates" ? { candidates: value.candidates.length }
          : kind === "participantJoined" ? { user: value.userId, polite: value.polite }
          : kind === "participantLeft" ? { user: value.userId, reason: value.reason }
          : {};
        return { seq: m.seq, kind, from: m.fromUserId, call: m.callId === "" ? -1 : this.calls.indexOf(m.callId), ...detail };
      }),
    );
  }
}

/** What the metrics hear: calls ended (by reason) and calls accepted. */
class Outcomes {
  readonly ended: string[] = [];
  answered = 0;
  readonly observer = {
    callAnswered: () => void this.answered++,
    callEnded: (reason: EndReason) => void this.ended.push(EndReason[reason] ?? String(reason)),
  };

  view() {
    return { ended: [...this.ended].sort(), answered: this.answered };
  }
}

interface CallView {
  call: number;
  state: string;
  participants: string[];
  invited: string[];
  /** A call of two as nodes without group calls read it: [caller, callee]. */
  pair: string[] | null;
}

/** The hub's calls, who is in which, and its counts, with call ids as their order of creation. */
function memoryState(memory: MemoryBackend, side: Side) {
  const calls: CallView[] = memory.hub
    .snapshot()
    .calls.map((c) => {
      const everyone = [...c.participants, ...c.invited];
      return { call: side.calls.indexOf(c.id), state: c.state, participants: c.participants, invited: c.invited, pair: everyone.length === 2 ? everyone : null };
    })
    .sort((x, y) => x.call - y.call);
  const inCall: Record<string, number> = {};
  for (const c of calls) for (const id of [...c.participants, ...c.invited]) inCall[id] = c.call;
  const ringing = memory.hub.ringingCallCount;
  // One per invitation, and one per call still ringing (for nodes without group calls).
  const ringTimers = calls
    .flatMap((c) => [...c.invited.map((id) => `ring:${c.call}:${id}`), ...(c.state === "ringing" ? [`ring:${c.call}`] : [])])
    .sort();
  return { calls, inCall, stats: { ringing, active: memory.hub.callCount - ringing }, ringTimers };
}

/** The same, read from Redis's keys. */
async function redisState(client: Redis, prefix: string, side: Side) {
  const key = `{${prefix}}:`;
  const calls: CallView[] = [];
  for (const [index, id] of side.calls.entries()) {
    const [state, p, i, caller, callee] = await client.hmget(`${key}c:${id}`, "state", "p", "i", "caller", "callee");
    if (!state) continue;
    const list = (text: string | null | undefined) => (text ? text.split(",") : []);
    const pair = caller || callee ? [caller ?? "", callee ?? ""] : null;
    calls.push({ call: index, state, participants: list(p), invited: list(i).map((item) => item.split(":")[0]!), pair });
  }
  const inCall: Record<string, number> = {};
  for (const [id, call] of Object.entries(await client.hgetall(`${key}incall`))) inCall[id] = side.calls.indexOf(call);
  const [ringing, active] = await client.hmget(`${key}stats`, "ringing", "active");
  const ringTimers = (await client.zrange(`${key}timers`, 0, -1))
    .filter((t) => t.startsWith("ring:"))
    .map((t) => {
      const [, call = "", ...id] = t.split(":");
      return ["ring", side.calls.indexOf(call), ...id].join(":");
    })
    .sort();
  return { calls, inCall, stats: { ringing: Number(ringing ?? 0), active: Number(active ?? 0) }, ringTimers };
}

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe("the Redis backend against the in-memory hub", () => {
  it("answers every random sequence of operations as the hub does, with the same events for everyone", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40, size: "max" }), async (steps) => {
        const memoryOutcomes = new Outcomes();
        const redisOutcomes = new Outcomes();
        const memory = new MemoryBackend({ ...OPTIONS, observer: memoryOutcomes.observer });
        const prefix = `d${randomUUID().slice(0, 8)}`;
        const options = { ...OPTIONS, url: redis.url, prefix, observer: redisOutcomes.observer };
        const nodes = await Promise.all([RedisBackend.connect(options), RedisBackend.connect(options)]);
        try {
          const expected = new Side(() => memory);
          const actual = new Side((index) => nodes[index % 2]!);
          await expected.joinAll();
          await actual.joinAll();
          for (const random of steps) {
            const step = expected.concrete(random, memory);
            expect(await actual.apply(step), JSON.stringify(step)).toBe(await expected.apply(step));
            // Memory delivers at once; Redis through pub/sub: wait until as many have arrived.
            await vi.waitFor(() => expect(actual.sinks.map((s) => s.messages.length)).toEqual(expected.sinks.map((s) => s.messages.length)), {
              timeout: 2_000,
              interval: 5,
            });
          }
          expect(actual.view()).toEqual(expected.view());
          expect(await redisState(client, prefix, actual)).toEqual(memoryState(memory, expected));
          expect(redisOutcomes.view()).toEqual(memoryOutcomes.view());
        } finally {
          await memory.close();
          await Promise.all(nodes.map((node) => node.close()));
        }
      }),
      { numRuns: 60 },
    );
  });
});
