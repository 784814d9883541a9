import * as http from "node:http";
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import { once } from "node:events";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { EndReason, ErrorReason, LIMITS, SignalingService } from "@peertobeer/protocol";
import type { RunningServer } from "../src/server.js";
import { get, grpcWebRequest, rawConnection, readResponse, settlesWithin } from "./raw-http.js";
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
  type SignalingClient,
} from "./helpers.js";

describe("a running server", () => {
  let server: RunningServer;
  let clients: Clients;
  const streams = new Streams();

  beforeAll(async () => {
    // The refused oversized requests below leave stuck connections (see the BUG tests) that only
    // the drain deadline closes; keep that deadline short.
    server = await startTestServer({ DRAIN_TIMEOUT_MS: "1000" });
    clients = clientsFor(server);
  });

  afterEach(() => streams.closeAll());

  afterAll(async () => {
    clients.close();
    await server.shutdown();
  });

  it("relays a call between a gRPC-Web user and a native gRPC user", async () => {
    const alice = await join(clients.grpcWeb, streams, "alice");
    const bob = await join(clients.grpc, streams, "bob");

    const { callId } = await clients.grpcWeb.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    const offer = await nextEvent(bob.reader, "offer");
    expect(offer).toMatchObject({ fromUserId: "alice", callId, seq: 2n });
    expect(offer.event.value).toMatchObject({ sdp: SAMPLE_OFFER, polite: true });

    await clients.grpc.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
    expect((await nextEvent(alice.reader, "answer")).event.value.sdp).toBe(SAMPLE_ANSWER);

    const fromAlice = [iceCandidate(SAMPLE_CANDIDATE, { sdpMid: "0", sdpMlineIndex: 0, usernameFragment: "aliceUf" })];
    const fromBob = [iceCandidate(`${SAMPLE_CANDIDATE} b`, { sdpMlineIndex: 1, usernameFragment: "bobUf" })];
    await clients.grpcWeb.sendIceCandidate({ callId, candidates: fromAlice }, alice.auth);
    await clients.grpc.sendIceCandidate({ callId, candidates: fromBob, endOfCandidates: true }, bob.auth);
    expect((await nextEvent(bob.reader, "iceCandidates")).event.value.candidates).toEqual(fromAlice);
    expect((await nextEvent(alice.reader, "iceCandidates")).event.value).toMatchObject({
      candidates: fromBob,
      endOfCandidates: true,
    });

    await clients.grpc.endCall({ callId, reason: EndReason.HANGUP }, bob.auth);
    expect((await nextEvent(alice.reader, "callEnded")).event.value).toMatchObject({
      reason: EndReason.HANGUP,
      endedByUserId: "bob",
    });
    expect(server.hub!.callCount).toBe(0);
  });

  it("relays between the Connect protocol and the other two", async () => {
    const alice = await join(clients.connect, streams, "connect-alice");
    const bob = await join(clients.grpc, streams, "connect-bob");
    const carol = await join(clients.grpcWeb, streams, "connect-carol");
    const { callId } = await clients.connect.sendOffer({ toUserId: bob.userId, sdp: SAMPLE_OFFER }, alice.auth);
    expect((await nextEvent(bob.reader, "offer")).event.value.sdp).toBe(SAMPLE_OFFER);
    await clients.grpc.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
    expect((await nextEvent(alice.reader, "answer")).event.value.sdp).toBe(SAMPLE_ANSWER);
    await expectRpcError(
      clients.grpcWeb.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, carol.auth),
      Code.PermissionDenied,
      ErrorReason.NOT_IN_CALL,
    );
    await clients.connect.endCall({ callId, reason: EndReason.HANGUP }, alice.auth);
    expect((await nextEvent(bob.reader, "callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });

  it.each(["grpcWeb", "grpc", "connect"] as const)("keeps the status code and reason over %s", async (name) => {
    const client = clients[name];
    const user = await join(client, streams, `${name}-user`);
    await expectRpcError(
      client.sendOffer({ toUserId: "nobody", sdp: SAMPLE_OFFER }, user.auth),
      Code.NotFound,
      ErrorReason.USER_OFFLINE,
    );
    await expectRpcError(
      client.sendOffer({ toUserId: "nobody", sdp: SAMPLE_OFFER }),
      Code.Unauthenticated,
      ErrorReason.NO_TOKEN,
    );
    await expectStreamError(openStream(client, streams, `${name}-user`), Code.AlreadyExists, ErrorReason.ID_TAKEN);
    await expectStreamError(openStream(client, streams, "not valid!"), Code.InvalidArgument, ErrorReason.INVALID_ID);
  });

  // Regression: the transports' read limit (128 KiB) used to refuse a batch within the documented
  // field limits (64 candidates of 2 KiB) as RESOURCE_EXHAUSTED with no reason.
  it.each(["grpcWeb", "grpc"] as const)("accepts a candidate batch at the documented limits over %s", async (name) => {
    const client = clients[name];
    const alice = await join(client, streams, `${name}-big-a`);
    const bob = await join(client, streams, `${name}-big-b`);
    const { callId } = await client.sendOffer({ toUserId: bob.userId, sdp: SAMPLE_OFFER }, alice.auth);
    const candidates = Array.from({ length: LIMITS.candidatesPerBatch }, (_, i) =>
      iceCandidate(`${i} `.padEnd(LIMITS.candidateMaxBytes, "c"), { sdpMid: "0", sdpMlineIndex: 0, usernameFragment: "uf" }),
    );
    await client.sendIceCandidate({ callId, candidates }, alice.auth);
    await nextEvent(bob.reader, "offer");
    expect((await nextEvent(bob.reader, "iceCandidates")).event.value.candidates).toHaveLength(LIMITS.candidatesPerBatch);
  });

  it("answers /healthz and /readyz", async () => {
    expect(await get(server.webPort, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await get(server.webPort, "/readyz")).toEqual({ status: 200, body: "ready\n" });
  });
});

describe("wire edge cases of the lean transports", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTestServer({ DRAIN_TIMEOUT_MS: "500" });
  });

  afterAll(() => server.shutdown());

  /** One raw HTTP/2 request to the native port: the response headers, body and trailers. */
  async function h2(path: string, contentType: string, body: Buffer) {
    const session = http2.connect(`http://127.0.0.1:${server.grpcPort}`);
    try {
      const request = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
      request.end(body);
      const [headers] = (await once(request, "response")) as [http2.IncomingHttpHeaders];
      let trailers: http2.IncomingHttpHeaders = {};
      request.once("trailers", (t: http2.IncomingHttpHeaders) => (trailers = t));
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      return { headers, body: Buffer.concat(chunks), trailers };
    } finally {
      session.close();
    }
  }

  const frame = (size: number, flags = 0) => {
    const bytes = Buffer.alloc(5 + size);
    bytes.writeUInt8(flags, 0);
    bytes.writeUInt32BE(size, 1);
    return bytes;
  };
  const method = (name: string) => `/${SignalingService.typeName}/${name}`;

  it("answers an unknown method with UNIMPLEMENTED on both ports", async () => {
    const native = await h2(method("Nope"), "application/grpc", frame(0));
    expect(native.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    const socket = await rawConnection(server.webPort);
    socket.write(grpcWebRequest(method("Nope"), 0));
    expect((await readResponse(socket)).body).toContain(`grpc-status: ${Code.Unimplemented}`);
    socket.destroy();
  });

  it("refuses compressed, truncated and oversized requests with a clear status", async () => {
    const compressed = await h2(method("SendOffer"), "application/grpc", frame(3, 1));
    expect(compressed.headers["grpc-status"]).toBe(String(Code.Unimplemented));
    const truncated = await h2(method("SendOffer"), "application/grpc", frame(10).subarray(0, 8));
    expect(truncated.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const empty = await h2(method("SendOffer"), "application/grpc", Buffer.alloc(0));
    expect(empty.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
    const oversized = await h2(method("SendOffer"), "application/grpc", frame(LIMITS.messageMaxBytes + 1));
    expect(oversized.headers["grpc-status"]).toBe(String(Code.ResourceExhausted));
    expect(decodeURIComponent(String(oversized.headers["grpc-message"]))).toContain(`the limit is ${LIMITS.messageMaxBytes}`);
  });

  it("refuses a request body that is not a protobuf message as INVALID_ARGUMENT", async () => {
    const garbage = frame(4);
    garbage.set([0xff, 0xff, 0xff, 0xff], 5);
    const native = await h2(method("SendOffer"), "application/grpc", garbage);
    expect(native.headers["grpc-status"]).toBe(String(Code.InvalidArgument));
  });

  it("answers a non-gRPC request on the native port with HTTP 415", async () => {
    const plainText = await h2(method("SendOffer"), "text/plain", Buffer.from("hi"));
    expect(plainText.headers[":status"]).toBe(415);
  });
});

describe("shutdown", () => {
  const DRAIN_TIMEOUT_MS = 4_000;
  let server: RunningServer | undefined;
  let stopping: Promise<void> | undefined;
  const streams = new Streams();
  const sockets: Socket[] = [];
  const cleanups: (() => void)[] = [];

  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    for (const cleanup of cleanups.splice(0)) cleanup();
    await streams.closeAll();
    await (stopping ?? server?.shutdown());
    server = undefined;
    stopping = undefined;
  });

  /** A gRPC-Web client on its own agent: `keepAlive` decides whether its connection outlives a stream. */
  function grpcWebClient(port: number, keepAlive: boolean): SignalingClient {
    const agent = new http.Agent({ keepAlive });
    cleanups.push(() => agent.destroy());
    return createClient(
      SignalingService,
      createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", nodeOptions: { agent } }),
    );
  }

  it("turns /readyz to 503, tells streams to reconnect, ends them and resolves", async () => {
    server = await startTestServer({ DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS) });
    const alice = await join(grpcWebClient(server.webPort, false), streams, "alice");
    const clients = clientsFor(server);
    cleanups.push(() => clients.close());
    const bob = await join(clients.grpc, streams, "bob");

    // A probe connection kept busy across the start of shutdown: one /readyz is answered and the
    // next request has begun, so the server does not count the connection as idle and close it.
    const probe = await rawConnection(server.webPort);
    sockets.push(probe);
    probe.write("GET /readyz HTTP/1.1\r\nHost: test\r\n\r\nGET /readyz HTTP/1.1\r\nHost: test\r\n");
    expect(await readResponse(probe)).toEqual({ status: 200, body: "ready\n" });

    const started = Date.now();
    stopping = server.shutdown();
    probe.write("\r\n");
    expect(await readResponse(probe)).toEqual({ status: 503, body: "draining\n" });
    probe.end();

    for (const user of [alice, bob]) {
      const { messages, error } = await user.reader.rest();
      expect(messages.map((m) => m.event.case)).toEqual(["draining"]);
      expect(error).toBeUndefined();
    }
    await stopping;
    expect(Date.now() - started, "shutdown only ended at the drain deadline").toBeLessThan(DRAIN_TIMEOUT_MS);
    await expect(get(server.webPort, "/healthz")).rejects.toThrow("ECONNREFUSED");
  });

  // Regression: idle connections used to be closed only once, when shutdown started, so a
  // keep-alive connection whose stream ended later (every browser's) held shutdown to its deadline.
  it("closes a keep-alive connection as soon as its stream has ended", async () => {
    const drainMs = 5_000;
    server = await startTestServer({ DRAIN_TIMEOUT_MS: String(drainMs) });
    const alice = await join(grpcWebClient(server.webPort, true), streams, "alice");
    const started = Date.now();
    stopping = server.shutdown();
    expect((await alice.reader.rest()).messages.map((m) => m.event.case)).toEqual(["draining"]);
    await stopping;
    expect(Date.now() - started, "shutdown only ended at the drain deadline").toBeLessThan(drainMs / 2);
  });

  // Regression: after tryShutdown() had closed a grpc-js session gracefully, forceShutdown() at
  // the deadline only half-closed its socket and the tryShutdown callback never came.
  it("resolves by the drain deadline when a native gRPC client stops reading", async () => {
    const drainMs = 500;
    server = await startTestServer({ DRAIN_TIMEOUT_MS: String(drainMs) });
    const clients = clientsFor(server);
    // Dropping the client's connection is what lets the hanging shutdown finish.
    cleanups.push(() => clients.close());
    await join(clients.grpc, streams, "stalled");
    stopping = server.shutdown();
    // The stalled client never reads its stream again.
    await expect(settlesWithin(stopping, drainMs + 2_000)).resolves.toBe(true);
  });
});

describe("connection hygiene", () => {
  let server: RunningServer;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startTestServer({ DRAIN_TIMEOUT_MS: "500" });
  });

  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.destroy();
  });

  afterAll(() => server.shutdown());

  // Regression: connect-node answered an oversized request without reading the rest of its body,
  // leaving the socket paused and unreaped (one leaked connection per request, and a shutdown
  // held up to its deadline).
  it("closes the connection of a request refused as too large", async () => {
    const socket = await rawConnection(server.webPort);
    sockets.push(socket);
    socket.write(grpcWebRequest(`/${SignalingService.typeName}/SendIceCandidate`, LIMITS.messageMaxBytes + 8 * 1024));
    const refused = await readResponse(socket);
    expect(refused.status).toBe(200);
    expect(refused.body).toContain("grpc-status: 8");
    // The client hangs up; a healthy server closes its side too.
    socket.end();
    await expect(settlesWithin(once(socket, "close"), 2_000)).resolves.toBe(true);
  });
});
