/**
 * Raw-frame fuzz of the lean transports: thousands of requests whose bytes are random or
 * malformed (truncated, mis-declared, compressed, doubled, oversized envelopes; messages of the
 * wrong type; unknown paths), written straight to the native gRPC port over node:http2 and to
 * the gRPC-Web port over raw HTTP/1.1. A model of the framing rules (./fuzz/frames.ts) predicts
 * the exact status and `p2b-error-reason` of each; each must be answered within a few seconds,
 * the server must log no internal error, and it must go on serving real clients.
 */
import { once } from "node:events";
import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { create, toBinary } from "@bufbuild/protobuf";
import { UserRequestSchema } from "@peertobeer/protocol";
import type { RunningServer } from "../src/server.js";
import { settlesWithin } from "./raw-http.js";
import {
  clientsFor,
  iceCandidate,
  join,
  nextEvent,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  startTestServer,
  Streams,
  type Clients,
} from "./helpers.js";
import { ONLINE_USER_ID, rawRequests } from "./fuzz/frame-generators.js";
import { describeRaw, envelope, predictRaw, RPC_PREFIX, type RawRequest } from "./fuzz/frames.js";
import { MESSAGE_MAX_BYTES, type Member, type Online } from "./fuzz/model.js";
import { CrashRecorder, startRecordedServer } from "./fuzz/recording.js";
import { bump, expectedView, sorted, statusLabel, type Observed } from "./fuzz/send.js";
import { sendNative, WebConnections } from "./fuzz/wire.js";

/** Batches of concurrent requests, enough for 2,000+ in all. */
const BATCH_SIZE = 16;
const NUM_RUNS = 160;
const MIN_REQUESTS = 2_000;
/** HTTP/2 connections the native requests are spread over. */
const NATIVE_SESSIONS = 4;

describe("fuzzing the lean transports with raw frames", () => {
  let server: RunningServer;
  let serverErrors: string[];
  let clients: Clients;
  const streams = new Streams();
  const recorder = new CrashRecorder();
  let user: Member;
  let online: Online;
  let sessions: http2.ClientHttp2Session[] = [];
  let web: WebConnections;

  beforeAll(async () => {
    recorder.start();
    ({ server, serverErrors } = await startRecordedServer({
      RATE_LIMIT_PER_SEC: "1000000",
      RATE_LIMIT_BURST: "1000000",
      DRAIN_TIMEOUT_MS: "1000",
    }));
    clients = clientsFor(server);
    // One user online, in no call: requests with its token reach the handlers, and none of them
    // can be accepted (there is nobody to call and no call to signal in).
    const joined = await join(clients.grpc, streams, ONLINE_USER_ID);
    user = { userId: joined.userId, sessionId: joined.joined.sessionId, token: joined.joined.sessionToken };
    online = { members: new Map([[user.userId, user]]), calls: new Map(), callOf: new Map() };
    sessions = Array.from({ length: NATIVE_SESSIONS }, () => {
      const session = http2.connect(`http://127.0.0.1:${server.grpcPort}`);
      session.on("error", () => undefined); // shows up as failed requests
      return session;
    });
    web = new WebConnections(server.webPort);
  });

  afterAll(async () => {
    recorder.stop();
    web?.closeAll();
    for (const session of sessions) session.destroy();
    await streams.closeAll();
    clients?.close();
    await server?.shutdown();
  });

  it(`answers ${MIN_REQUESTS}+ raw malformed requests on both ports as the contract says, promptly, and keeps serving`, async () => {
    const before = server.hub!.snapshot();
    const requests = rawRequests(online, user);
    const tally = {
      tried: 0,
      mismatches: 0,
      byTransport: new Map<string, number>(),
      byKind: new Map<string, number>(),
      statuses: new Map<string, number>(),
    };
    const started = Date.now();
    let sent = 0;
    const send = (raw: RawRequest): Promise<Observed> =>
      raw.transport === "grpc" ? sendNative(sessions[sent++ % sessions.length] as http2.ClientHttp2Session, raw) : web.send(raw);

    await fc.assert(
      fc.asyncProperty(fc.array(requests, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }), async (batch) => {
        const observed = await Promise.all(batch.map(send));
        const problems: string[] = [];
        batch.forEach((raw, i) => {
          const seen = observed[i] as Observed;
          const verdict = predictRaw(raw, online);
          if (verdict === "accepted") throw new Error("the generators only make requests the contract refuses");
          const wanted = expectedView(verdict);
          tally.tried += 1;
          bump(tally.byTransport, raw.transport);
          bump(tally.byKind, raw.kind);
          bump(tally.statuses, statusLabel(seen));
          if (seen.code === wanted.code && seen.reason === wanted.reason && seen.callId === wanted.callId) return;
          tally.mismatches += 1;
          problems.push(`${describeRaw(raw)}\n  expected ${JSON.stringify(wanted)}\n  got      ${JSON.stringify(seen)}`);
        });
        if (problems.length > 0) throw new Error(`${problems.length} unexpected answers:\n${problems.join("\n")}`);
      }),
      // No shrinking: a failing batch lists every request it got wrong.
      { numRuns: NUM_RUNS, endOnFailure: true },
    );
    const elapsedMs = Date.now() - started;

    expect(tally.tried).toBeGreaterThanOrEqual(MIN_REQUESTS);
    expect(tally.mismatches).toBe(0);
    for (const t of ["grpc", "grpcWeb"]) expect(tally.byTransport.get(t) ?? 0).toBeGreaterThan(tally.tried / 3);
    // Nothing changed: that user's is still the only session, attached, and there is no call.
    expect(server.hub!.snapshot()).toEqual(before);

    // Real clients on both ports: a new call from native gRPC to gRPC-Web, answered, with candidates.
    const after = clientsFor(server);
    try {
      const a = await join(after.grpc, streams, "after-fuzz-a");
      const b = await join(after.grpcWeb, streams, "after-fuzz-b");
      const burst = [iceCandidate(SAMPLE_CANDIDATE)];
      const { callId } = await after.grpc.sendOffer({ toUserId: b.userId, sdp: SAMPLE_OFFER, candidates: burst }, a.auth);
      expect((await nextEvent(b.reader, "offer")).event.value).toMatchObject({ sdp: SAMPLE_OFFER, candidates: burst });
      await after.grpcWeb.sendAnswer({ callId, sdp: SAMPLE_ANSWER, candidates: burst, endOfCandidates: true }, b.auth);
      expect((await nextEvent(a.reader, "answer")).event.value).toMatchObject({ sdp: SAMPLE_ANSWER, endOfCandidates: true });
      await after.grpcWeb.sendOffer({ callId, sdp: SAMPLE_OFFER }, b.auth);
      expect((await nextEvent(a.reader, "offer")).event.value).toMatchObject({ sdp: SAMPLE_OFFER, renegotiation: true });
    } finally {
      await streams.closeAll();
      after.close();
    }
    expect(recorder.crashes).toEqual([]);
    expect(serverErrors).toEqual([]);

    console.log(
      [
        `frame fuzz: ${tally.tried} requests tried in ${(elapsedMs / 1000).toFixed(1)} s ` +
          `(native gRPC ${tally.byTransport.get("grpc") ?? 0}, gRPC-Web ${tally.byTransport.get("grpcWeb") ?? 0}), ` +
          `${tally.mismatches} unexpected answers, crashes: ${recorder.crashes.length}, server errors logged: ${serverErrors.length}`,
        `  by input: ${JSON.stringify(sorted(tally.byKind))}`,
        `  statuses seen: ${JSON.stringify(sorted(tally.statuses), null, 1).replaceAll("\n", "")}`,
      ].join("\n"),
    );
  }, 60_000);
});

/** How long the web port lingers on a connection after refusing a request unread (transport/linger.ts). */
const LINGER_MS = 2_000;

describe("a keep-alive gRPC-Web connection after a request refused as too large", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTestServer({ DRAIN_TIMEOUT_MS: "500" });
  });

  afterAll(() => server.shutdown());

  /** A gRPC-Web request through `agent`; its response (and the request) errors are left to the test. */
  function post(agent: http.Agent, method: string, body: Uint8Array): http.ClientRequest {
    const request = http.request({
      host: "127.0.0.1",
      port: server.webPort,
      path: `${RPC_PREFIX}${method}`,
      method: "POST",
      agent,
      headers: { "content-type": "application/grpc-web+proto", "content-length": body.length },
    });
    request.on("error", () => undefined); // a cut connection; the test looks at the response
    request.end(body);
    return request;
  }

  async function responseTo(request: http.ClientRequest): Promise<http.IncomingMessage> {
    const [response] = (await once(request, "response")) as [http.IncomingMessage];
    response.on("error", () => undefined);
    return response;
  }

  // Regression: the linger timer of a refused request (Content-Length over the limit) used to
  // destroy its connection whatever it carried by then; a keep-alive client that reused it for
  // a JoinCall had that stream cut about 2 s later.
  it("does not cut a stream the client opened on it after the refusal", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const refused = await responseTo(post(agent, "SendIceCandidate", envelope(new Uint8Array(MESSAGE_MAX_BYTES + 1))));
      let trailer = "";
      for await (const chunk of refused) trailer += String(chunk);
      expect(trailer).toContain("p2b-error-reason: MESSAGE_TOO_LARGE");

      const joinRequest = toBinary(UserRequestSchema, create(UserRequestSchema, { userId: "after-refusal" }));
      const stream = await responseTo(post(agent, "JoinCall", envelope(joinRequest)));
      await once(stream, "data"); // joined
      // The stream must outlive the linger period of the refused request.
      expect(await settlesWithin(once(stream, "close"), LINGER_MS + 1_000), "the stream was cut").toBe(false);
    } finally {
      agent.destroy();
    }
  });
});
