import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { create, toBinary } from "@bufbuild/protobuf";
import { EndReason, SignalingMessageSchema, type SignalingMessage } from "@peertobeer/protocol";
import { Redis } from "ioredis";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import type { JoinedFactory, SessionHandle, SignalingBackend } from "../src/bus/backend.js";
import { RedisBackend, type RedisBackendOptions } from "../src/bus/redis.js";
import type { EventInit } from "../src/hub/index.js";
import { CLUSTER_SCRIPT_1TO1 } from "./fixtures/redis-script-1to1.js";
import { CollectingSink, iceCandidate, isEvent, SAMPLE_ANSWER, SAMPLE_CANDIDATE, SAMPLE_OFFER, type EventCase, type MessageOf } from "./helpers.js";

/*
 * A rolling upgrade to group calls: nodes of the release before (its cluster script, frozen in
 * fixtures/) serve beside new ones on the same Redis keys. A 1:1 call goes on whichever version
 * started, accepted, relayed, timed out or ended it; a group call is refused by the old nodes
 * (CALL_NOT_FOUND) rather than misrouted.
 */

const RING_MS = 400;
const HISTORY = { events: 64, bytes: 1024 * 1024 };

class TestSink extends CollectingSink {
  private read = 0;

  async next<K extends EventCase>(kind: K): Promise<MessageOf<K>> {
    const message = await vi.waitFor(
      () => {
        while (this.messages[this.read]?.event.case === "heartbeat") this.read++;
        const unread = this.messages[this.read];
        if (!unread) throw new Error(`no ${kind} event yet`);
        return unread;
      },
      { timeout: 5_000, interval: 10 },
    );
    this.read++;
    if (!isEvent(message, kind)) throw new Error(`expected a ${kind} event, got ${message.event.case ?? "an empty event"}`);
    return message;
  }

  unread(): SignalingMessage[] {
    return this.messages.slice(this.read).filter((m) => m.event.case !== "heartbeat");
  }
}

const joined: JoinedFactory = (session, resumed, onlineUserIds) => ({ sessionId: session.id, resumed, onlineUserIds });

function encode(event: EventInit["event"]): Buffer {
  return Buffer.from(toBinary(SignalingMessageSchema, create(SignalingMessageSchema, { event })));
}

const offer = encode({ case: "offer", value: { sdp: SAMPLE_OFFER, polite: true } });
const answer = (polite: boolean) => encode({ case: "answer", value: { sdp: SAMPLE_ANSWER, polite } });
const candidates = encode({ case: "iceCandidates", value: { candidates: [iceCandidate(SAMPLE_CANDIDATE)] } });

interface LegacyCommand {
  p2b1(key: string, ...args: (string | number | Buffer)[]): Promise<unknown[]>;
}

let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  client.defineCommand("p2b1", { numberOfKeys: 1, lua: CLUSTER_SCRIPT_1TO1 });
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

describe("a rolling upgrade to group calls (Redis backend)", () => {
  let nodes: RedisBackend[] = [];
  let key = "";

  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.close()));
    nodes = [];
  });

  /** Two new nodes on a fresh prefix. */
  async function deploy(overrides: Partial<RedisBackendOptions> = {}): Promise<[RedisBackend, RedisBackend]> {
    const prefix = `u${randomUUID().slice(0, 8)}`;
    key = `{${prefix}}:`;
    const options: RedisBackendOptions = {
      url: redis.url,
      prefix,
      ringTimeoutMs: RING_MS,
      maxCallParticipants: 4,
      sessionGraceMs: 5_000,
      heartbeatMs: 60_000,
      historyLimit: HISTORY,
      tickMs: 50,
      nodeTtlMs: 5_000,
      ...overrides,
    };
    nodes = await Promise.all([RedisBackend.connect(options), RedisBackend.connect(options)]);
    return [nodes[0]!, nodes[1]!];
  }

  /** An operation as a node of the release before runs it; the reply without its metrics lists. */
  async function legacy(op: string, ...args: (string | number | Buffer)[]): Promise<string[]> {
    const historyMs = 5_000 + 2 * 60_000 + 1_000;
    const reply = await (client as unknown as LegacyCommand).p2b1(key, op, HISTORY.events, historyMs, 5_000, HISTORY.bytes, ...args);
    return reply.slice(0, -2).map(String);
  }

  async function online(backend: SignalingBackend, userId: string): Promise<{ session: SessionHandle; sink: TestSink }> {
    const sink = new TestSink();
    const session = await backend.join({ userId, watchPresence: false }, sink, joined);
    await sink.next("joined");
    return { session, sink };
  }

  async function stats(): Promise<{ ringing: number; active: number }> {
    const [ringing, active] = await client.hmget(`${key}stats`, "ringing", "active");
    return { ringing: Number(ringing ?? 0), active: Number(active ?? 0) };
  }

  it("goes on with a call an old node started: a new node accepts it and adds a third person", async () => {
    const [a, b] = await deploy();
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const carol = await online(b, "carol");
    const callId = randomUUID();
    expect(await legacy("call", "alice", alice.session.id, "bob", callId, RING_MS, offer)).toEqual(["ok"]);
    expect((await bob.sink.next("offer")).callId).toBe(callId);

    await b.answer(bob.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
    expect((await alice.sink.next("answer")).fromUserId).toBe("bob");
    expect(await stats()).toEqual({ ringing: 0, active: 1 });
    await a.offer(alice.session, { toUserId: "carol", callId, sdp: SAMPLE_OFFER });
    expect((await carol.sink.next("offer")).event.value.participantUserIds).toEqual(["bob"]);
    await b.answer(carol.session, { callId, sdp: SAMPLE_ANSWER, endOfCandidates: true });
    await alice.sink.next("answer");
    expect((await bob.sink.next("participantJoined")).event.value.userId).toBe("carol");

    // Three people: not a call the old nodes know how to serve, so they say it is not there.
    expect(await legacy("relay", "alice", alice.session.id, callId, "candidates", "", candidates, candidates)).toEqual(["nocall"]);
    expect(await legacy("hangup", "bob", bob.session.id, callId, EndReason.HANGUP)).toEqual(["nocall"]);

    await b.hangUp(bob.session, callId, EndReason.HANGUP);
    for (const user of [alice, carol]) expect((await user.sink.next("participantLeft")).event.value.userId).toBe("bob");
    // Two again: an old node can hang it up, and everyone is free.
    expect(await legacy("hangup", "carol", carol.session.id, callId, EndReason.HANGUP)).toEqual(["ok", String(EndReason.HANGUP)]);
    expect((await alice.sink.next("callEnded")).event.value).toMatchObject({ reason: EndReason.HANGUP, endedByUserId: "carol" });
    expect(await stats()).toEqual({ ringing: 0, active: 0 });
    await a.offer(alice.session, { toUserId: "carol", callId: "", sdp: SAMPLE_OFFER });
  });

  it("goes on with a call a new node started and an old node accepted, past its ring timeout", async () => {
    const [a, b] = await deploy();
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const callId = await a.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await bob.sink.next("offer");
    expect(await legacy("relay", "bob", bob.session.id, callId, "answer", "", answer(true), answer(false))).toEqual(["ok"]);
    expect((await alice.sink.next("answer")).event.value.polite).toBe(false);

    // The invitation's own timer, which the old node did not know to remove, fires and ends nothing.
    await vi.waitFor(async () => expect(await client.zscore(`${key}timers`, `ring:${callId}:bob`)).toBeNull(), { timeout: 5_000 });
    await a.candidates(alice.session, callId, [iceCandidate(SAMPLE_CANDIDATE)], false);
    expect((await bob.sink.next("iceCandidates")).fromUserId).toBe("alice");
    await b.candidates(bob.session, callId, [], true);
    expect((await alice.sink.next("iceCandidates")).fromUserId).toBe("bob");
    expect(await legacy("relay", "alice", alice.session.id, callId, "candidates", "", candidates, candidates)).toEqual(["ok"]);
    await bob.sink.next("iceCandidates");
    expect(await stats()).toEqual({ ringing: 0, active: 1 });

    await b.hangUp(bob.session, callId, EndReason.HANGUP);
    expect((await alice.sink.next("callEnded")).event.value.reason).toBe(EndReason.HANGUP);
    expect([alice.sink.unread(), bob.sink.unread()]).toEqual([[], []]);
    expect(await stats()).toEqual({ ringing: 0, active: 0 });
  });

  it("ends with NO_ANSWER a call a new node started when an old node's tick fires its timer", async () => {
    // The new nodes tick once, when they connect: the old node fires the timers.
    const [a, b] = await deploy({ tickMs: 60_000 });
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const callId = await a.offer(alice.session, { toUserId: "bob", callId: "", sdp: SAMPLE_OFFER });
    await bob.sink.next("offer");
    await new Promise((resolve) => setTimeout(resolve, RING_MS + 100));
    await legacy("tick", "old-node", 5_000);
    for (const user of [alice, bob]) expect((await user.sink.next("callEnded")).event.value).toMatchObject({ reason: EndReason.NO_ANSWER });
    expect(await client.hexists(`${key}c:${callId}`, "state")).toBe(0);
    expect(await client.hlen(`${key}incall`)).toBe(0);
  });

  it("ends with NO_ANSWER a call an old node started, on a new node's tick", async () => {
    const [a, b] = await deploy();
    const alice = await online(a, "alice");
    const bob = await online(b, "bob");
    const callId = randomUUID();
    await legacy("call", "alice", alice.session.id, "bob", callId, RING_MS, offer);
    await bob.sink.next("offer");
    for (const user of [alice, bob]) {
      const ended = await user.sink.next("callEnded");
      expect({ callId: ended.callId, reason: ended.event.value.reason }).toEqual({ callId, reason: EndReason.NO_ANSWER });
    }
    expect(await stats()).toEqual({ ringing: 0, active: 0 });
    expect(await client.zcard(`${key}timers`)).toBe(0);
  });
});
