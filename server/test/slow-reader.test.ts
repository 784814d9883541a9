/**
 * The bounded outbound queue, over the real transports: a client that joins and then stops
 * reading its stream must be cut off (RESOURCE_EXHAUSTED / SLOW_READER) once
 * STREAM_QUEUE_LIMIT messages wait for it, whatever is sent to it afterwards; the server's heap
 * must not grow with what it is sent; and everyone else keeps being served meanwhile.
 */
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { EndReason, ErrorReason, type IceCandidate } from "@peertobeer/protocol";
import { HISTORY_LIMIT, type RunningServer } from "../src/server.js";
import {
  clientsFor,
  expectRpcError,
  iceCandidate,
  join,
  nextEvent,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  startTestServer,
  Streams,
  type Clients,
  type JoinedUser,
  type SignalingClient,
} from "./helpers.js";

const STREAM_QUEUE_LIMIT = 32;
const CANDIDATE_BYTES = 1024;
/** Batches of 16 candidates of 1 KiB (about 16 KiB on the wire and as decoded strings) ... */
const SMALL_BATCH = 16;
/** ... or of 64 (the most a batch may hold): fewer requests for the same bytes. */
const LARGE_BATCH = 64;
const batchBytes = (candidates: number) => candidates * CANDIDATE_BYTES;
/** Requests a sender keeps in flight. */
const CONCURRENCY = 8;

type Transport = "grpc" | "grpcWeb";
const TRANSPORTS: readonly Transport[] = ["grpc", "grpcWeb"];

/** A major GC on demand: `global.gc` when node runs with --expose-gc, otherwise V8's, via a flag. */
function gcFunction(): () => void {
  if (typeof globalThis.gc === "function") {
    const gc = globalThis.gc;
    return () => gc();
  }
  v8.setFlagsFromString("--expose-gc");
  const gc: unknown = vm.runInNewContext("gc");
  if (typeof gc !== "function") throw new Error("could not get a gc function");
  return () => {
    gc();
  };
}

const forceGc = gcFunction();

/** heapUsed and the off-heap buffers (framed messages waiting in a socket are ArrayBuffers). */
async function measuredMemory(): Promise<{ heapUsed: number; arrayBuffers: number }> {
  for (let i = 0; i < 3; i += 1) {
    forceGc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

/** Polls `condition` until it holds; fails after `timeoutMs` (a condition, not a fixed sleep). */
async function waitUntil(what: string, condition: () => boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return Date.now() - started;
}

/** A batch whose candidates are distinct strings, so none is shared between messages. */
function batch(n: number, size: number): IceCandidate[] {
  return Array.from({ length: size }, (_, i) =>
    iceCandidate(`${SAMPLE_CANDIDATE} ${n}-${i} `.padEnd(CANDIDATE_BYTES, "x"), { sdpMid: "0", sdpMlineIndex: 0 }),
  );
}

/**
 * Sends `count` ICE batches of `size` candidates from `sender` in `callId`, CONCURRENCY at a
 * time; every one must succeed (the sender is not the slow one).
 */
async function flood(client: SignalingClient, sender: JoinedUser, callId: string, count: number, size: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const response = await client.sendIceCandidate({ callId, candidates: batch(next, size) }, sender.auth);
      expect(response.success).toBe(true);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

/** carol calls dave across both transports, and every event arrives: the server still serves others. */
async function callRelays(clients: Clients, streams: Streams, tag: string): Promise<void> {
  const carol = await join(clients.grpc, streams, `carol-${tag}`);
  const dave = await join(clients.grpcWeb, streams, `dave-${tag}`);
  const { callId } = await clients.grpc.sendOffer({ toUserId: dave.userId, sdp: SAMPLE_OFFER }, carol.auth);
  expect((await nextEvent(dave.reader, "offer")).callId).toBe(callId);
  await clients.grpcWeb.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, dave.auth);
  expect((await nextEvent(carol.reader, "answer")).event.value.sdp).toBe(SAMPLE_ANSWER);
  const fromCarol = [iceCandidate(`${SAMPLE_CANDIDATE} carol`)];
  await clients.grpc.sendIceCandidate({ callId, candidates: fromCarol }, carol.auth);
  expect((await nextEvent(dave.reader, "iceCandidates")).event.value.candidates).toEqual(fromCarol);
  await clients.grpcWeb.endCall({ callId, reason: EndReason.HANGUP }, dave.auth);
  expect((await nextEvent(carol.reader, "callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  await carol.reader.close();
  await dave.reader.close();
}

describe("a client that stops reading its stream", () => {
  let server: RunningServer;
  /** The senders and the third users, on connections no slow reader shares. */
  let clients: Clients;
  const streams = new Streams();
  /** Each slow reader gets connections of its own: a stalled HTTP/2 stream must not stall others. */
  const slowConnections: Clients[] = [];

  function slowClients(): Clients {
    const connections = clientsFor(server);
    slowConnections.push(connections);
    return connections;
  }

  /** `slowUserId` joins over `transport` on its own connection and reads nothing after `joined`. */
  async function stalledCall(transport: Transport, tag: string) {
    const slow = await join(slowClients()[transport], streams, `slow-${tag}`);
    const sender = await join(clients.grpc, streams, `sender-${tag}`);
    const { callId } = await clients.grpc.sendOffer({ toUserId: slow.userId, sdp: SAMPLE_OFFER }, sender.auth);
    const session = () => server.hub!.sessionById(slow.joined.sessionId);
    return { slow, sender, callId, session };
  }

  beforeAll(async () => {
    server = await startTestServer({
      STREAM_QUEUE_LIMIT: String(STREAM_QUEUE_LIMIT),
      // The sender must not be rate limited: the point is what reaches the stalled reader.
      RATE_LIMIT_PER_SEC: "1000000",
      RATE_LIMIT_BURST: "1000000",
      // The detached sessions stay (and keep their bounded history) for the whole test.
      SESSION_GRACE_MS: "600000",
      RING_TIMEOUT_MS: "600000",
      DRAIN_TIMEOUT_MS: "1000",
    });
    clients = clientsFor(server);
  });

  afterEach(() => streams.closeAll());

  afterAll(async () => {
    await streams.closeAll();
    for (const connections of slowConnections) connections.close();
    clients.close();
    await server.shutdown();
  });

  it.each(TRANSPORTS)(
    "over %s, is cut off with RESOURCE_EXHAUSTED SLOW_READER, which it reads once it reads again",
    async (transport) => {
      const { slow, sender, callId, session } = await stalledCall(transport, `${transport}-status`);
      // 19 MB: far more than the queue limit plus what sockets and HTTP/2 flow control hold
      // (loopback TCP buffers took about 4.5 MB of gRPC-Web, HTTP/2 windows far less).
      const count = 300;
      await flood(clients.grpc, sender, callId, count, LARGE_BATCH);
      // The reader reads again: what the transport still held, then the status.
      const { messages, error } = await slow.reader.rest();
      await expectRpcError(Promise.reject(error), Code.ResourceExhausted, ErrorReason.SLOW_READER);
      const batches = messages.filter((m) => m.event.case === "iceCandidates");
      console.log(
        `${transport}: ${count} batches (${mb(count * batchBytes(LARGE_BATCH))}) sent to a stalled reader; once it read ` +
          `again it got ${messages.length} messages (the offer and ${batches.length} batches, ` +
          `${mb(batches.length * batchBytes(LARGE_BATCH))}), then RESOURCE_EXHAUSTED/SLOW_READER`,
      );
      // The offer, then an unbroken prefix of the batches; everything after it was dropped.
      expect(messages[0]?.event.case).toBe("offer");
      expect(messages.slice(1).every((m) => m.event.case === "iceCandidates")).toBe(true);
      batches.forEach((m, i) => expect(m.seq).toBe(BigInt(i + 3)));
      expect(count - batches.length).toBeGreaterThan(STREAM_QUEUE_LIMIT);
      // The stream is gone; the session survives it, with every event numbered, for a resume.
      await waitUntil("the slow reader's session is detached", () => session()?.attached === false, 5_000);
      expect(session()?.seq).toBe(BigInt(count + 2));
    },
    30_000,
  );

  it(
    "cuts off stalled readers on both transports, keeps its heap flat whatever they are sent, and keeps serving everyone else",
    async () => {
      const stalled = await Promise.all(TRANSPORTS.map((t) => stalledCall(t, `${t}-heap`)));
      const baseline = await measuredMemory();

      // Warm-up: fills each reader's transport buffers and queue, and its (bounded) replay history.
      const warmUp = HISTORY_LIMIT.events + 100;
      const warmUpStarted = Date.now();
      await Promise.all(stalled.map(({ sender, callId }) => flood(clients.grpc, sender, callId, warmUp, SMALL_BATCH)));
      const warmUpMs = Date.now() - warmUpStarted;
      const afterWarmUp = await measuredMemory();

      // The main flood, with a third pair's call relayed while it goes on.
      const count = 1_000;
      const flooding = Promise.all(stalled.map(({ sender, callId }) => flood(clients.grpc, sender, callId, count, SMALL_BATCH)));
      const relayStarted = Date.now();
      await callRelays(clients, streams, "during");
      const relayMs = Date.now() - relayStarted;
      await flooding;
      const afterFlood = await measuredMemory();

      // Cut off: each stalled stream ended and its session detached, without the client reading.
      const cutMs = await waitUntil("both stalled readers are detached", () => stalled.every((s) => s.session()?.attached === false), 15_000);
      for (const s of stalled) expect(s.session()?.seq).toBe(BigInt(warmUp + count + 2));
      await callRelays(clients, streams, "after");

      const bytesPerBatch = batchBytes(SMALL_BATCH);
      const sentDuringFlood = stalled.length * count * bytesPerBatch;
      const sentInAll = stalled.length * (warmUp + count) * bytesPerBatch;
      const heapGrowth = afterFlood.heapUsed - afterWarmUp.heapUsed;
      const bufferGrowth = afterFlood.arrayBuffers - afterWarmUp.arrayBuffers;
      console.log(
        [
          `slow readers: ${stalled.length} stalled streams (native gRPC, gRPC-Web), STREAM_QUEUE_LIMIT ${STREAM_QUEUE_LIMIT}, ` +
            `batches of ${SMALL_BATCH} × ${CANDIDATE_BYTES} B`,
          `  warm-up: ${warmUp} batches each (${mb(stalled.length * warmUp * bytesPerBatch)}) in ${warmUpMs} ms`,
          `  flood: ${count} more batches each (${mb(sentDuringFlood)}); ${mb(sentInAll)} in all`,
          `  heapUsed: baseline ${mb(baseline.heapUsed)}, after warm-up ${mb(afterWarmUp.heapUsed)}, after flood ${mb(afterFlood.heapUsed)}` +
            ` → growth during the flood ${mb(heapGrowth)} (${((100 * heapGrowth) / sentDuringFlood).toFixed(1)}% of the bytes sent),` +
            ` in all ${mb(afterFlood.heapUsed - baseline.heapUsed)}`,
          `  arrayBuffers: baseline ${mb(baseline.arrayBuffers)}, after warm-up ${mb(afterWarmUp.arrayBuffers)}, after flood ${mb(afterFlood.arrayBuffers)}`,
          `  a third pair's call relayed in ${relayMs} ms during the flood; both readers detached ${cutMs} ms after it`,
        ].join("\n"),
      );
      // An unbounded queue would hold every batch: heap (decoded strings) or buffers (frames)
      // would grow by about the bytes sent. Allow a quarter of that for noise.
      expect(heapGrowth).toBeLessThan(sentDuringFlood / 4);
      expect(heapGrowth + bufferGrowth).toBeLessThan(sentDuringFlood / 4);
      // In all, what stays is the bounded history (512 events per session) and noise.
      // What the replay histories may keep, by design: bounded in count and weight (server.ts).
      const retained = Math.min(HISTORY_LIMIT.events * bytesPerBatch, HISTORY_LIMIT.bytes);
      expect(afterFlood.heapUsed - baseline.heapUsed).toBeLessThan(stalled.length * retained * 2 + 16 * MB);
    },
    60_000,
  );
});
