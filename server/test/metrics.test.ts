/**
 * GET /metrics on a running server: calls over all three transports move the session and call
 * gauges, the end-reason counter, the setup-time histogram and the per-method RPC counter; a
 * client that stops reading shows in the stream backlog and is counted when it is cut.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { EndReason, ErrorReason } from "@peertobeer/protocol";
import { parseExposition, seriesValue as value, type Scrape } from "../../test/support/prometheus.js";
import type { RunningServer } from "../src/server.js";
import {
  clientsFor,
  expectRpcError,
  expectStreamError,
  iceCandidate,
  join,
  nextEvent,
  openStream,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  startTestServer,
  Streams,
  type Clients,
} from "./helpers.js";

async function scrape(server: RunningServer): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${server.webPort}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

const rpcs = (scrape: Scrape, method: string, code: string) => value(scrape, "peertobeer_rpcs_total", { method, code });

describe("GET /metrics", () => {
  let server: RunningServer;
  let clients: Clients;
  const streams = new Streams();

  beforeAll(async () => {
    server = await startTestServer({ STREAM_QUEUE_LIMIT: "64", RATE_LIMIT_PER_SEC: "100000", RATE_LIMIT_BURST: "100000" });
    clients = clientsFor(server);
  });

  afterEach(() => streams.closeAll());

  afterAll(async () => {
    clients.close();
    await server.shutdown();
  });

  it("counts sessions, calls by state and outcome, setup time and RPCs by method and code", async () => {
    const before = await scrape(server);
    expect(value(before, "peertobeer_sessions")).toBe(0);
    // Node's own metrics are there too.
    expect(before.has("process_cpu_user_seconds_total")).toBe(true);
    expect(before.has("nodejs_heap_size_used_bytes")).toBe(true);

    const alice = await join(clients.grpcWeb, streams, "alice");
    const bob = await join(clients.grpc, streams, "bob");
    const carol = await join(clients.connect, streams, "carol");
    const { callId } = await clients.grpcWeb.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    await nextEvent(bob.reader, "offer");

    const ringing = await scrape(server);
    expect(value(ringing, "peertobeer_sessions")).toBe(3);
    expect(value(ringing, "peertobeer_streams_open")).toBe(3);
    expect(value(ringing, "peertobeer_calls", { state: "ringing" })).toBe(1);
    expect(value(ringing, "peertobeer_calls", { state: "active" })).toBe(0);

    await clients.grpc.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
    await nextEvent(alice.reader, "answer");
    await clients.grpc.sendIceCandidate({ callId, candidates: [iceCandidate(SAMPLE_CANDIDATE)] }, bob.auth);
    await nextEvent(alice.reader, "iceCandidates");
    const active = await scrape(server);
    expect(value(active, "peertobeer_calls", { state: "ringing" })).toBe(0);
    expect(value(active, "peertobeer_calls", { state: "active" })).toBe(1);
    expect(value(active, "peertobeer_call_setup_seconds_count") - value(before, "peertobeer_call_setup_seconds_count")).toBe(1);
    // Offer to answer took well under a minute: counted in the 60 s bucket, and some time passed.
    expect(value(active, "peertobeer_call_setup_seconds_bucket", { le: "60" })).toBe(1);
    expect(value(active, "peertobeer_call_setup_seconds_sum")).toBeGreaterThanOrEqual(0);

    // Errors are counted by their code, on each transport.
    await expectRpcError(clients.grpcWeb.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, carol.auth), Code.FailedPrecondition, ErrorReason.USER_BUSY);
    await expectRpcError(clients.grpc.sendOffer({ toUserId: "nobody", sdp: SAMPLE_OFFER }, carol.auth), Code.NotFound, ErrorReason.USER_OFFLINE);
    await expectRpcError(clients.connect.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }), Code.Unauthenticated, ErrorReason.NO_TOKEN);
    await expectStreamError(openStream(clients.grpcWeb, streams, "bob"), Code.AlreadyExists, ErrorReason.ID_TAKEN);

    // A hang-up over Connect, and a declined call.
    await clients.connect.endCall({ callId, reason: EndReason.HANGUP }, carol.auth).catch(() => undefined); // carol is not in it
    await clients.connect.endCall({ callId, reason: EndReason.HANGUP }, alice.auth);
    await nextEvent(bob.reader, "callEnded");
    const second = await clients.connect.sendOffer({ toUserId: "alice", sdp: SAMPLE_OFFER }, carol.auth);
    await nextEvent(alice.reader, "offer");
    await clients.grpcWeb.endCall({ callId: second.callId, reason: EndReason.DECLINED }, alice.auth);
    await nextEvent(carol.reader, "callEnded");
    // A stream the client closes is counted as CANCELLED once the server has seen it go (Connect
    // and gRPC-Web alike).
    await carol.reader.close();
    await alice.reader.close();

    await expect
      .poll(async () => rpcs(await scrape(server), "JoinCall", "CANCELLED") - rpcs(before, "JoinCall", "CANCELLED"))
      .toBe(2);
    const after = await scrape(server);
    const moved = (method: string, code: string) => rpcs(after, method, code) - rpcs(before, method, code);
    expect({
      joinTaken: moved("JoinCall", "ALREADY_EXISTS"),
      offerOk: moved("SendOffer", "OK"),
      offerBusy: moved("SendOffer", "FAILED_PRECONDITION"),
      offerOffline: moved("SendOffer", "NOT_FOUND"),
      offerNoToken: moved("SendOffer", "UNAUTHENTICATED"),
      answerOk: moved("SendAnswer", "OK"),
      iceOk: moved("SendIceCandidate", "OK"),
      endOk: moved("EndCall", "OK"),
      endNotInCall: moved("EndCall", "PERMISSION_DENIED"),
    }).toEqual({
      joinTaken: 1,
      offerOk: 2,
      offerBusy: 1,
      offerOffline: 1,
      offerNoToken: 1,
      answerOk: 1,
      iceOk: 1,
      endOk: 2,
      endNotInCall: 1,
    });
    const ended = (reason: string) =>
      value(after, "peertobeer_calls_ended_total", { reason }) - value(before, "peertobeer_calls_ended_total", { reason });
    expect({ hangup: ended("hangup"), declined: ended("declined"), noAnswer: ended("no_answer") }).toEqual({
      hangup: 1,
      declined: 1,
      noAnswer: 0,
    });
    expect(value(after, "peertobeer_calls", { state: "active" }) + value(after, "peertobeer_calls", { state: "ringing" })).toBe(0);
    expect(value(after, "peertobeer_streams_open")).toBe(1);
  });

  it("shows a slow reader's backlog, and counts its stream as RESOURCE_EXHAUSTED when it is cut", async () => {
    const before = await scrape(server);
    // The slow reader has a connection of its own, so only its stream stalls.
    const slowClients = clientsFor(server);
    try {
      const slow = await join(slowClients.grpc, streams, "slow");
      const sender = await join(clients.grpc, streams, "sender");
      const { callId } = await clients.grpc.sendOffer({ toUserId: slow.userId, sdp: SAMPLE_OFFER }, sender.auth);
      const candidates = Array.from({ length: 64 }, (_, i) => iceCandidate(`${SAMPLE_CANDIDATE} ${i} `.padEnd(1024, "x")));
      let backlogSeen = 0;
      // 19 MB, far more than the transport buffers and the 64 messages the stream may hold
      // (slow-reader.test.ts); the backlog is looked at between batches until it shows.
      for (let sent = 0; sent < 300; sent += 1) {
        await clients.grpc.sendIceCandidate({ callId, candidates }, sender.auth);
        if (backlogSeen === 0) backlogSeen = value(await scrape(server), "peertobeer_stream_backlog_max_messages");
      }
      expect(backlogSeen).toBeGreaterThan(0);
      // Counted once the cut stream has closed (the server gives it a while to flush its end).
      await expect
        .poll(async () => rpcs(await scrape(server), "JoinCall", "RESOURCE_EXHAUSTED") - rpcs(before, "JoinCall", "RESOURCE_EXHAUSTED"), {
          timeout: 15_000,
        })
        .toBe(1);
      const after = await scrape(server);
      expect(value(after, "peertobeer_stream_backlog_messages")).toBe(0);
      expect(server.hub!.sessionById(slow.joined.sessionId)?.attached).toBe(false);
    } finally {
      slowClients.close();
    }
  }, 30_000);
});
