/**
 * Property/fuzz test over the real transports: thousands of malformed, out-of-order and
 * impersonating requests, split between the native gRPC port and the gRPC-Web port of a real
 * server. A small model of the contract (docs/PROTOCOL.md) predicts the exact status and
 * `p2b-error-reason` of each one; none may change the hub's state.
 *
 * The model, the generators and the sending live in ./fuzz/.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import fc from "fast-check";
import { Code } from "@connectrpc/connect";
import { EndReason, ErrorReason } from "@peertobeer/protocol";
import type { HubSnapshot } from "../src/hub/index.js";
import type { RunningServer } from "../src/server.js";
import { get } from "./raw-http.js";
import {
  bearer,
  clientsFor,
  iceCandidate,
  join,
  nextEvent,
  SAMPLE_ANSWER,
  SAMPLE_CANDIDATE,
  SAMPLE_OFFER,
  Streams,
  type Clients,
  type JoinedUser,
  type SignalingClient,
} from "./helpers.js";
import { generators, validId } from "./fuzz/generators.js";
import {
  describeRequest,
  invalidRequest,
  KNOWN_END_REASONS,
  predict,
  refuse,
  TOKEN_SECRET,
  TOKEN_TTL_MS,
  type CallFact,
  type Member,
  type Refusal,
  type World,
} from "./fuzz/model.js";
import { CrashRecorder, startRecordedServer } from "./fuzz/recording.js";
import { bump, expectedView, observedOf, send, sorted, statusLabel, Tally, type Observed } from "./fuzz/send.js";

/** Main fuzz run: batches of concurrent requests, enough batches for 10,000+ requests. */
const BATCH_SIZE = 24;
const NUM_RUNS = 425;
const MIN_REQUESTS = 10_000;

async function assertBothPortsAnswer(server: RunningServer, clients: Clients, a: JoinedUser, b: JoinedUser, callId: string) {
  expect(await get(server.webPort, "/healthz")).toEqual({ status: 200, body: "ok\n" });
  // a is on native gRPC and b on gRPC-Web: each relays one batch through its own port.
  const fromA = [iceCandidate(`${SAMPLE_CANDIDATE} after-fuzz-a`)];
  const fromB = [iceCandidate(`${SAMPLE_CANDIDATE} after-fuzz-b`)];
  await clients.grpc.sendIceCandidate({ callId, candidates: fromA }, a.auth);
  await clients.grpcWeb.sendIceCandidate({ callId, candidates: fromB }, b.auth);
  expect((await nextEvent(b.reader, "iceCandidates")).event.value.candidates).toEqual(fromA);
  expect((await nextEvent(a.reader, "iceCandidates")).event.value.candidates).toEqual(fromB);
}

describe("fuzzing both transports with requests that must be refused", () => {
  let server: RunningServer;
  let serverErrors: string[];
  let clients: Clients;
  const streams = new Streams();
  let world: World;
  let alice: JoinedUser;
  let bob: JoinedUser;
  let activeCallId: string;
  const tally = new Tally();
  const recorder = new CrashRecorder();

  const stackTraceLimit = Error.stackTraceLimit;

  beforeAll(async () => {
    // Every refusal is an Error on both ends; capturing ~20,000 deep async stack traces is a
    // good part of the CPU this test would use, and stacks are not what it checks.
    Error.stackTraceLimit = 1;
    recorder.start();
    ({ server, serverErrors } = await startRecordedServer({
      TOKEN_SECRET,
      TOKEN_TTL_MS: String(TOKEN_TTL_MS),
      RATE_LIMIT_PER_SEC: "1000000",
      RATE_LIMIT_BURST: "1000000",
      RING_TIMEOUT_MS: "600000",
      SESSION_GRACE_MS: "600000",
      DRAIN_TIMEOUT_MS: "1000",
    }));
    clients = clientsFor(server);

    // alice (gRPC) and bob (gRPC-Web) are in an active call; carol (gRPC) is ringing dave
    // (gRPC-Web); erin (gRPC) is idle; ghost (gRPC-Web) rejoined, so its first session ended.
    alice = await join(clients.grpc, streams, "alice");
    bob = await join(clients.grpcWeb, streams, "bob");
    const carol = await join(clients.grpc, streams, "carol");
    const dave = await join(clients.grpcWeb, streams, "dave");
    const erin = await join(clients.grpc, streams, "erin");
    const firstGhost = await join(clients.grpcWeb, streams, "ghost");
    await firstGhost.reader.close();
    await vi.waitFor(() => expect(server.hub!.sessionById(firstGhost.joined.sessionId)?.attached).toBe(false));
    const ghost = await join(clients.grpcWeb, streams, "ghost");
    expect(server.hub!.sessionById(firstGhost.joined.sessionId)).toBeUndefined();

    ({ callId: activeCallId } = await clients.grpc.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth));
    await nextEvent(bob.reader, "offer");
    await clients.grpcWeb.sendAnswer({ callId: activeCallId, sdp: SAMPLE_ANSWER }, bob.auth);
    await nextEvent(alice.reader, "answer");
    const { callId: ringingCallId } = await clients.grpc.sendOffer({ toUserId: "dave", sdp: SAMPLE_OFFER }, carol.auth);
    await nextEvent(dave.reader, "offer");

    const memberOf = (u: JoinedUser): Member => ({ userId: u.userId, sessionId: u.joined.sessionId, token: u.joined.sessionToken });
    const active: CallFact = { id: activeCallId, caller: "alice", callee: "bob", state: "active" };
    const ringing: CallFact = { id: ringingCallId, caller: "carol", callee: "dave", state: "ringing" };
    world = {
      members: new Map([alice, bob, carol, dave, erin, ghost].map((u) => [u.userId, memberOf(u)])),
      calls: new Map([active, ringing].map((c) => [c.id, c])),
      callOf: new Map([
        ["alice", active],
        ["bob", active],
        ["carol", ringing],
        ["dave", ringing],
      ]),
      ended: { userId: "ghost", sessionId: firstGhost.joined.sessionId, token: firstGhost.joined.sessionToken },
    };
  });

  afterAll(async () => {
    Error.stackTraceLimit = stackTraceLimit;
    recorder.stop();
    await streams.closeAll();
    clients?.close();
    await server?.shutdown();
  });

  it(
    `answers ${MIN_REQUESTS}+ malformed, out-of-order and impersonating requests exactly as the contract says, and changes nothing`,
    async () => {
      const before: HubSnapshot = server.hub!.snapshot();
      expect(before.sessions).toHaveLength(6);
      expect(before.calls).toHaveLength(2);
      const { request } = generators(world);
      const started = Date.now();

      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: BATCH_SIZE, maxLength: BATCH_SIZE }), async (batch) => {
          const observed = await Promise.all(batch.map((r) => send(clients, r)));
          const problems: string[] = [];
          batch.forEach((r, i) => {
            const seen = observed[i] as Observed;
            const verdict = predict(r, world);
            const wanted = verdict === "accepted" ? { code: "OK", reason: null, callId: null } : expectedView(verdict);
            const matched = seen.code === wanted.code && seen.reason === wanted.reason && seen.callId === wanted.callId;
            tally.record(r, seen, matched);
            if (!matched) problems.push(`${describeRequest(r)}\n  expected ${JSON.stringify(wanted)}\n  got      ${JSON.stringify(seen)}`);
          });
          if (problems.length > 0) throw new Error(`${problems.length} unexpected answers:\n${problems.join("\n")}`);
        }),
        // No shrinking: each failing batch already lists every request it got wrong, and shrinking
        // over real sockets would take minutes.
        { numRuns: NUM_RUNS, endOnFailure: true },
      );
      const elapsedMs = Date.now() - started;

      // Nothing changed: same sessions (still attached, same seq), same calls in the same states.
      expect(server.hub!.snapshot()).toEqual(before);
      expect(tally.tried).toBeGreaterThanOrEqual(MIN_REQUESTS);
      expect(tally.mismatches).toBe(0);
      // Both transports carried a fair share.
      for (const t of ["grpc", "grpcWeb"]) expect(tally.byTransport.get(t) ?? 0).toBeGreaterThan(tally.tried / 3);
      // Every refusal the fixed world can produce was seen.
      const reasonsSeen = new Set([...tally.statuses.keys()].map((k) => k.split("/")[1]));
      for (const reason of [
        ErrorReason.INVALID_ID,
        ErrorReason.INVALID_REQUEST,
        ErrorReason.ID_TAKEN,
        ErrorReason.USER_OFFLINE,
        ErrorReason.USER_BUSY,
        ErrorReason.ALREADY_IN_CALL,
        ErrorReason.CALL_GLARE,
        ErrorReason.CALL_NOT_FOUND,
        ErrorReason.NOT_IN_CALL,
        ErrorReason.WRONG_STATE,
        ErrorReason.IMPERSONATION,
        ErrorReason.NO_TOKEN,
        ErrorReason.BAD_TOKEN,
        ErrorReason.SESSION_ENDED,
        ErrorReason.MESSAGE_TOO_LARGE,
      ]) {
        expect(reasonsSeen, `no ${reason} was seen`).toContain(reason);
      }

      // The server is alive on both ports, and still relays for the users set up before.
      await assertBothPortsAnswer(server, clients, alice, bob, activeCallId);
      expect(recorder.crashes).toEqual([]);
      expect(serverErrors).toEqual([]);

      console.log(
        [
          `fuzz: ${tally.tried} requests tried in ${(elapsedMs / 1000).toFixed(1)} s ` +
            `(native gRPC ${tally.byTransport.get("grpc") ?? 0}, gRPC-Web ${tally.byTransport.get("grpcWeb") ?? 0}), ` +
            `${tally.mismatches} unexpected answers, crashes: ${recorder.crashes.length}, server errors logged: ${serverErrors.length}`,
          `  by method: ${JSON.stringify(sorted(tally.byMethod))}`,
          `  by token/header kind (unary): ${JSON.stringify(sorted(tally.authKinds))}`,
          `  statuses seen: ${JSON.stringify(sorted(tally.statuses), null, 1).replaceAll("\n", "")}`,
        ].join("\n"),
      );
    },
    90_000,
  );
});

// ---------------------------------------------------------------------------------------------
// A low-limit server: RESOURCE_EXHAUSTED RATE_LIMITED once a session's burst is spent.

describe("fuzzing the rate limit", () => {
  const BURST = 8;
  const PER_SEC = 1;
  let server: RunningServer;
  let clients: Clients;
  const streams = new Streams();
  let runs = 0;
  const statuses = new Map<string, number>();
  let tried = 0;

  beforeAll(async () => {
    ({ server } = await startRecordedServer({
      TOKEN_SECRET,
      RATE_LIMIT_BURST: String(BURST),
      RATE_LIMIT_PER_SEC: String(PER_SEC),
      DRAIN_TIMEOUT_MS: "1000",
    }));
    clients = clientsFor(server);
  });

  afterAll(async () => {
    await streams.closeAll();
    clients?.close();
    await server?.shutdown();
  });

  /** A request by the session's user: some fail before the rate limit is consulted, some after. */
  type Step =
    | { kind: "impersonate"; as: string }
    | { kind: "bad-token" }
    | { kind: "unknown-call"; callId: string }
    | { kind: "bad-reason"; reason: number }
    | { kind: "offline-callee"; to: string };

  const otherId = validId.filter((id) => !id.startsWith("rl-"));
  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 1, arbitrary: otherId.map((as): Step => ({ kind: "impersonate", as })) },
    { weight: 1, arbitrary: fc.constant<Step>({ kind: "bad-token" }) },
    { weight: 3, arbitrary: fc.uuid().map((callId): Step => ({ kind: "unknown-call", callId })) },
    { weight: 2, arbitrary: fc.integer({ min: Math.max(...KNOWN_END_REASONS) + 1, max: 1000 }).map((reason): Step => ({ kind: "bad-reason", reason })) },
    { weight: 2, arbitrary: otherId.map((to): Step => ({ kind: "offline-callee", to })) },
  );

  /** The model: whether a step reaches the rate limit, and how it is refused when it gets past it. */
  function model(s: Step): { takesToken: boolean; refusal: Refusal } {
    switch (s.kind) {
      case "impersonate":
        return { takesToken: false, refusal: refuse(Code.PermissionDenied, ErrorReason.IMPERSONATION) };
      case "bad-token":
        return { takesToken: false, refusal: refuse(Code.Unauthenticated, ErrorReason.BAD_TOKEN) };
      case "unknown-call":
        return { takesToken: true, refusal: refuse(Code.NotFound, ErrorReason.CALL_NOT_FOUND) };
      case "bad-reason":
        return { takesToken: true, refusal: invalidRequest };
      case "offline-callee":
        return { takesToken: true, refusal: refuse(Code.NotFound, ErrorReason.USER_OFFLINE) };
    }
  }

  function sendStep(client: SignalingClient, user: JoinedUser, s: Step): Promise<Observed> {
    const sent = (() => {
      switch (s.kind) {
        case "impersonate":
          return client.endCall({ callId: "x", reason: EndReason.HANGUP, fromUserId: s.as }, user.auth);
        case "bad-token":
          return client.endCall({ callId: "x", reason: EndReason.HANGUP }, bearer(`${user.joined.sessionToken}x`));
        case "unknown-call":
          return client.endCall({ callId: s.callId, reason: EndReason.HANGUP }, user.auth);
        case "bad-reason":
          return client.endCall({ callId: "x", reason: s.reason }, user.auth);
        case "offline-callee":
          return client.sendOffer({ toUserId: s.to, sdp: SAMPLE_OFFER }, user.auth);
      }
    })();
    return sent.then((): Observed => ({ code: "OK", reason: null, callId: null }), observedOf);
  }

  it.each(["grpc", "grpcWeb"] as const)(
    "over %s, refuses a session's requests past its burst with RESOURCE_EXHAUSTED RATE_LIMITED",
    async (transport) => {
      const client = clients[transport];
      const limited = expectedView(refuse(Code.ResourceExhausted, ErrorReason.RATE_LIMITED));
      let limitedSeen = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: BURST + 4, maxLength: 40 }), async (steps) => {
          runs += 1;
          // A fresh session, so a fresh bucket.
          const user = await join(client, streams, `rl-${runs}`);
          const started = Date.now();
          const seen: Observed[] = [];
          // One at a time, so that the bucket sees them in the order sent.
          for (const s of steps) seen.push(await sendStep(client, user, s));
          // Refills (PER_SEC) may let a few more through on a slow run; never fewer than the burst.
          const refills = Math.floor(((Date.now() - started) / 1000) * PER_SEC);
          await user.reader.close();

          let tokens = BURST;
          let extraPasses = 0;
          steps.forEach((s, i) => {
            const got = seen[i] as Observed;
            tried += 1;
            bump(statuses, statusLabel(got));
            const { takesToken, refusal } = model(s);
            const label = `step ${i} (${s.kind})`;
            if (!takesToken || tokens > 0) {
              if (takesToken) tokens -= 1;
              expect(got, label).toEqual(expectedView(refusal));
            } else if (got.reason === ErrorReason.RATE_LIMITED) {
              expect(got, label).toEqual(limited);
              limitedSeen += 1;
            } else {
              extraPasses += 1;
              expect(got, `${label}, past the burst`).toEqual(expectedView(refusal));
            }
          });
          expect(extraPasses).toBeLessThanOrEqual(refills);
        }),
        { numRuns: 8 },
      );
      expect(limitedSeen).toBeGreaterThan(0);
    },
  );

  afterAll(() => {
    console.log(`rate-limit fuzz: ${tried} requests tried over ${runs} sessions, statuses seen: ${JSON.stringify(sorted(statuses))}`);
  });
});
