import { get } from "node:http";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { EndReason, ErrorReason, SignalingService } from "@peertobeer/protocol";
import { startAppServer, type AppServer } from "../../test/support/app-server.js";
import { scrapeMetrics, seriesValue } from "../../test/support/prometheus.js";
import { startRedis, type RedisServer } from "../../test/support/redis.js";
import {
  expectRpcError,
  iceCandidate,
  join,
  nextEvent,
  openStream,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  Streams,
  type JoinedUser,
  type SignalingClient,
} from "./helpers.js";

/*
 * Cluster mode as it is deployed: a real redis-server and three nodes, each the production
 * entry point (server/src/main.ts) in a process of its own. Each user's stream sits on one
 * node, and their unary RPCs go to another, as a round-robin balancer sends them.
 */

const RING_TIMEOUT_MS = 2_000;
const SESSION_GRACE_MS = 4_000;

let redis: RedisServer;
let nodes: AppServer[];
const streams = new Streams();

function clientOf(node: AppServer): SignalingClient {
  return createClient(SignalingService, createGrpcWebTransport({ baseUrl: node.url, httpVersion: "1.1" }));
}

function readyz(node: AppServer): Promise<number> {
  return new Promise((resolve) => {
    get(`${node.url}/readyz`, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", () => resolve(0));
  });
}

/** A node of the deployment `prefix` names (each test has its own, so none sees another's users). */
function startNode(prefix: string): Promise<AppServer> {
  return startAppServer({
    REDIS_URL: redis.url,
    REDIS_PREFIX: prefix,
    TOKEN_SECRET: "cluster-test-secret",
    RING_TIMEOUT_MS: String(RING_TIMEOUT_MS),
    SESSION_GRACE_MS: String(SESSION_GRACE_MS),
  });
}

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  await redis?.stop();
});

let deployments = 0;
beforeEach(async () => {
  const prefix = `cluster-${++deployments}`;
  nodes = await Promise.all([startNode(prefix), startNode(prefix), startNode(prefix)]);
});

afterEach(async () => {
  await streams.closeAll();
  await Promise.all(nodes.map((node) => node.stop()));
});

/** alice's stream on node 0, bob's on node 1; alice calls bob through node 2 and bob accepts through node 0. */
async function activeCall(): Promise<{ alice: JoinedUser; bob: JoinedUser; callId: string }> {
  const [n0, n1, n2] = nodes.map(clientOf) as [SignalingClient, SignalingClient, SignalingClient];
  const alice = await join(n0, streams, "alice");
  const bob = await join(n1, streams, "bob");
  const { callId } = await n2.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
  expect((await nextEvent(bob.reader, "offer")).callId).toBe(callId);
  await n0.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
  expect((await nextEvent(alice.reader, "answer")).event.value.sdp).toBe(SAMPLE_ANSWER);
  return { alice, bob, callId };
}

describe("cluster mode: three nodes on one Redis", () => {
  it("refuses to start a node without TOKEN_SECRET, saying why", async () => {
    await expect(startAppServer({ REDIS_URL: redis.url })).rejects.toThrow("exited with 1 before it was up");
  });

  it("connects a call whose two users and every request are on different nodes", async () => {
    const { alice, bob, callId } = await activeCall();
    await clientOf(nodes[1]!).sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)] }, alice.auth);
    expect((await nextEvent(bob.reader, "iceCandidates")).event.value.candidates[0]?.candidate).toBe(SAMPLE_CANDIDATE);
    await clientOf(nodes[2]!).endCall({ callId, reason: EndReason.HANGUP }, bob.auth);
    const ended = await nextEvent(alice.reader, "callEnded");
    expect({ reason: ended.event.value.reason, by: ended.event.value.endedByUserId }).toEqual({ reason: EndReason.HANGUP, by: "bob" });
  });

  it("runs a three-person call whose streams are on three nodes, every request through another node", async () => {
    // alice's stream on node 0, bob's on node 1, carol's on node 2.
    const { alice, bob, callId } = await activeCall();
    const [n0, n1, n2] = nodes.map(clientOf) as [SignalingClient, SignalingClient, SignalingClient];
    const carol = await join(n2, streams, "carol");

    // alice adds carol (through node 1); carol accepts (through node 0).
    await n1.sendOffer({ toUserId: "carol", callId, sdp: SAMPLE_OFFER }, alice.auth);
    const invitation = await nextEvent(carol.reader, "offer");
    expect({ from: invitation.fromUserId, callId: invitation.callId, ...invitation.event.value }).toMatchObject({
      from: "alice",
      callId,
      renegotiation: false,
      polite: true,
      participantUserIds: ["bob"],
    });
    await n0.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, carol.auth);
    const accepted = await nextEvent(alice.reader, "answer");
    expect({ from: accepted.fromUserId, polite: accepted.event.value.polite }).toEqual({ from: "carol", polite: false });
    const joinedCall = await nextEvent(bob.reader, "participantJoined");
    expect({ from: joinedCall.fromUserId, ...joinedCall.event.value }).toMatchObject({ from: "carol", userId: "carol", polite: false });

    // bob and carol negotiate a connection of their own (bob through node 2, carol through node 1).
    await n2.sendOffer({ toUserId: "carol", callId, sdp: SAMPLE_OFFER }, bob.auth);
    const offer = await nextEvent(carol.reader, "offer");
    expect({ from: offer.fromUserId, renegotiation: offer.event.value.renegotiation, polite: offer.event.value.polite }).toEqual({
      from: "bob",
      renegotiation: true,
      polite: true,
    });
    await n1.sendAnswer({ callId, sdp: SAMPLE_ANSWER, toUserId: "bob" }, carol.auth);
    const answer = await nextEvent(bob.reader, "answer");
    expect({ from: answer.fromUserId, polite: answer.event.value.polite }).toEqual({ from: "carol", polite: false });
    await n0.sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)], toUserId: "carol" }, bob.auth);
    expect((await nextEvent(carol.reader, "iceCandidates")).fromUserId).toBe("bob");

    // bob leaves (through node 0): alice and carol go on.
    await n0.endCall({ callId, reason: EndReason.HANGUP }, bob.auth);
    for (const user of [alice, carol]) {
      const left = await nextEvent(user.reader, "participantLeft");
      expect({ from: left.fromUserId, callId: left.callId, ...left.event.value }).toMatchObject({ from: "bob", callId, userId: "bob", reason: EndReason.HANGUP });
    }
    // carol hangs up (through node 0): the last two, so the call ends.
    await n0.endCall({ callId, reason: EndReason.HANGUP }, carol.auth);
    const ended = await nextEvent(alice.reader, "callEnded");
    expect({ callId: ended.callId, reason: ended.event.value.reason, by: ended.event.value.endedByUserId }).toEqual({ callId, reason: EndReason.HANGUP, by: "carol" });
    await expectRpcError(n1.sendIceCandidate({ callId, candidates: [], endOfCandidates: true }, alice.auth), Code.NotFound, ErrorReason.CALL_NOT_FOUND);
  });

  it("reports the deployment's calls, each outcome once (on the node that ended it), setup times and cross-node deliveries in /metrics", async () => {
    const { alice, callId } = await activeCall();
    const total = async (name: string, labels: Record<string, string> = {}) =>
      (await Promise.all(nodes.map((node) => scrapeMetrics(node.url)))).reduce((sum, scrape) => sum + seriesValue(scrape, name, labels), 0);
    // Every node reads the deployment's calls at its tick.
    await vi.waitFor(async () => expect(await total("peertobeer_calls", { state: "active" })).toBe(3));
    expect(await total("peertobeer_redis_up")).toBe(3);
    expect(await total("peertobeer_cluster_users_online")).toBe(6);
    expect(await total("peertobeer_sessions")).toBe(2);
    expect(await total("peertobeer_call_setup_seconds_count")).toBe(1);
    // joined is local; the offer, the answer and nothing else crossed nodes.
    expect(await total("peertobeer_cluster_delivery_seconds_count")).toBe(2);
    await clientOf(nodes[2]!).endCall({ callId, reason: EndReason.HANGUP }, alice.auth);
    await vi.waitFor(async () => expect(await total("peertobeer_calls", { state: "active" })).toBe(0));
    expect(await total("peertobeer_calls_ended_total", { reason: "hangup" })).toBe(1);
  });

  it("refuses a call to someone busy on another node, and an ID live on another node", async () => {
    const { callId } = await activeCall();
    const carol = await join(clientOf(nodes[2]!), streams, "carol");
    const busy = await expectRpcError(clientOf(nodes[0]!).sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, carol.auth), Code.FailedPrecondition, ErrorReason.USER_BUSY);
    expect(busy.message).toContain("bob is busy");
    await expectRpcError(nextEvent(openStream(clientOf(nodes[2]!), streams, "alice"), "joined"), Code.AlreadyExists, ErrorReason.ID_TAKEN);
    expect(callId).not.toBe("");
  });

  it("lets exactly one call through when two people call each other at once through different nodes", async () => {
    const alice = await join(clientOf(nodes[0]!), streams, "alice");
    const bob = await join(clientOf(nodes[1]!), streams, "bob");
    const results = await Promise.allSettled([
      clientOf(nodes[1]!).sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth),
      clientOf(nodes[0]!).sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, bob.auth),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.find((r) => r.status === "rejected");
    expect(String((refused as PromiseRejectedResult).reason)).toContain("already calling you");
  });

  it("resumes a user whose node was SIGKILLed on another node, replaying what it missed once and in order", async () => {
    const { alice, bob, callId } = await activeCall();
    const lastSeq = bob.first.seq + 1n; // joined, then the offer
    nodes[1]!.process.kill("SIGKILL");
    await bob.reader.rest(); // bob's stream broke with its node
    const alive = clientOf(nodes[2]!);
    for (const n of [1, 2]) await alive.sendIceCandidate({ callId, candidates: [iceCandidate(`${SAMPLE_CANDIDATE} ${n}`)] }, alice.auth);

    const back = await join(alive, streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq });
    expect({ resumed: back.joined.resumed, sessionId: back.joined.sessionId }).toEqual({ resumed: true, sessionId: bob.joined.sessionId });
    const replayed = [await nextEvent(back.reader, "iceCandidates"), await nextEvent(back.reader, "iceCandidates")];
    expect(replayed.map((m) => [m.seq, m.event.value.candidates[0]?.candidate])).toEqual([
      [lastSeq + 1n, `${SAMPLE_CANDIDATE} 1`],
      [lastSeq + 2n, `${SAMPLE_CANDIDATE} 2`],
    ]);
    // Hanging up afterwards, through yet another node, reaches the other side.
    await clientOf(nodes[0]!).endCall({ callId, reason: EndReason.HANGUP }, back.auth);
    expect((await nextEvent(alice.reader, "callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });

  it("ends a call with NO_ANSWER after the ring timeout even when the node that started it died", async () => {
    const alice = await join(clientOf(nodes[0]!), streams, "alice");
    const bob = await join(clientOf(nodes[1]!), streams, "bob");
    const { callId } = await clientOf(nodes[0]!).sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    await nextEvent(bob.reader, "offer");
    nodes[0]!.process.kill("SIGKILL");
    const ended = await nextEvent(bob.reader, "callEnded");
    expect({ callId: ended.callId, reason: ended.event.value.reason }).toEqual({ callId, reason: EndReason.NO_ANSWER });
  });

  it("ends a call PEER_GONE when its user's node died and the user never came back", async () => {
    const { alice, callId } = await activeCall();
    nodes[1]!.process.kill("SIGKILL");
    // The others notice the dead node within 5 s; bob's grace period runs from then.
    const ended = await nextEvent(alice.reader, "callEnded");
    expect({ callId: ended.callId, reason: ended.event.value.reason, by: ended.event.value.endedByUserId }).toEqual({
      callId,
      reason: EndReason.PEER_GONE,
      by: "bob",
    });
    // bob's ID is free again.
    await join(clientOf(nodes[2]!), streams, "bob");
  }, 30_000);

  it("drains on SIGTERM: its users resume on the other nodes with nothing lost and no failed RPC", async () => {
    const { alice, bob, callId } = await activeCall();
    const draining = nodes[1]!;
    const stopped = draining.stop();
    expect((await nextEvent(bob.reader, "draining")).event.case).toBe("draining");
    await stopped;
    await clientOf(nodes[0]!).sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)] }, alice.auth);
    const back = await join(clientOf(nodes[2]!), streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: bob.first.seq + 1n });
    expect(back.joined.resumed).toBe(true);
    expect((await nextEvent(back.reader, "iceCandidates")).event.value.candidates).toHaveLength(1);
  });

  it("answers /readyz 503 and refuses joins with UNAVAILABLE while Redis is down, and carries on when it is back", async () => {
    const { alice, bob, callId } = await activeCall();
    await redis.pause();
    await vi.waitFor(async () => expect(await Promise.all(nodes.map(readyz))).toEqual([503, 503, 503]), { timeout: 10_000 });
    expect(seriesValue(await scrapeMetrics(nodes[0]!.url), "peertobeer_redis_up")).toBe(0);
    await expectRpcError(nextEvent(openStream(clientOf(nodes[2]!), streams, "carol"), "joined"), Code.Unavailable, ErrorReason.STORE_UNAVAILABLE);
    await expectRpcError(
      clientOf(nodes[2]!).sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)] }, alice.auth),
      Code.Unavailable,
      ErrorReason.STORE_UNAVAILABLE,
    );

    await redis.resume();
    await vi.waitFor(async () => expect(await Promise.all(nodes.map(readyz))).toEqual([200, 200, 200]), { timeout: 15_000 });
    // Events may have been missed meanwhile: every stream was ended, and each resumes its session.
    const aliceRest = await alice.reader.rest();
    const bobRest = await bob.reader.rest();
    expect([aliceRest.error, bobRest.error]).toEqual([undefined, undefined]);
    const aliceBack = await join(clientOf(nodes[2]!), streams, "alice", { resumeToken: alice.joined.sessionToken, lastSeq: alice.first.seq + 1n });
    const bobBack = await join(clientOf(nodes[0]!), streams, "bob", { resumeToken: bob.joined.sessionToken, lastSeq: bob.first.seq + 1n });
    expect([aliceBack.joined.resumed, bobBack.joined.resumed]).toEqual([true, true]);
    await clientOf(nodes[1]!).endCall({ callId, reason: EndReason.HANGUP }, aliceBack.auth);
    expect((await nextEvent(bobBack.reader, "callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });
});
