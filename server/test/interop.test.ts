/**
 * A stock gRPC client that shares no code with ours: @grpc/grpc-js with the .proto loaded at run
 * time by @grpc/proto-loader. Messages are plain objects described by the interfaces below.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { RunningServer } from "../src/server.js";
import { startTestServer, StreamReader, Streams } from "./helpers.js";

const PROTO_PATH = fileURLToPath(new URL("../../proto/peertobeer/signaling/v1/signaling.proto", import.meta.url));
const SERVICE = "peertobeer.signaling.v1.SignalingService";

interface WireCandidate {
  candidate: string;
  sdpMid?: string;
  sdpMlineIndex?: number;
  usernameFragment?: string;
}

interface WireMessage {
  seq: string;
  fromUserId: string;
  callId: string;
  event?: string;
  joined?: { sessionId: string; sessionToken: string; resumed: boolean };
  offer?: { sdp: string; renegotiation: boolean; polite: boolean; candidates: WireCandidate[]; endOfCandidates: boolean };
  answer?: { sdp: string; polite: boolean; candidates: WireCandidate[]; endOfCandidates: boolean; ringing: boolean };
  iceCandidates?: { candidates: WireCandidate[]; endOfCandidates: boolean };
  callEnded?: { reason: string; endedByUserId: string };
}

interface WireSuccess {
  success: boolean;
  callId: string;
}

type Loaded = grpc.GrpcObject[string] | undefined;

/** A package namespace, as opposed to a service constructor or a message/enum definition. */
function isNamespace(node: Loaded): node is grpc.GrpcObject {
  return typeof node === "object" && !("format" in node);
}

function serviceConstructor(root: grpc.GrpcObject, name: string): grpc.ServiceClientConstructor {
  let node: Loaded = root;
  for (const part of name.split(".")) {
    if (!isNamespace(node)) throw new Error(`${name} is not in the loaded proto`);
    node = node[part];
  }
  if (typeof node !== "function") throw new Error(`${name} is not a service`);
  return node;
}

let server: RunningServer;
let client: InstanceType<grpc.ServiceClientConstructor>;
const streams = new Streams();

beforeAll(async () => {
  server = await startTestServer();
  const definition = protoLoader.loadSync(PROTO_PATH, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const Service = serviceConstructor(grpc.loadPackageDefinition(definition), SERVICE);
  client = new Service(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
});

afterEach(async () => {
  await streams.closeAll();
  // The client sees its cancel at once; wait until the server has seen it too, so IDs are free.
  await vi.waitFor(() => expect(server.hub!.snapshot().sessions.filter((s) => s.attached)).toEqual([]));
});

afterAll(async () => {
  client.close();
  await server.shutdown();
});

function metadataWith(token: string | undefined): grpc.Metadata {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.set("authorization", `Bearer ${token}`);
  return metadata;
}

/** Calls a unary method the stock way (callback), as a promise. */
function unary(method: string, request: object, token?: string): Promise<WireSuccess> {
  const call = client[method];
  if (!call) throw new Error(`no method ${method}`);
  return new Promise((resolve, reject) => {
    call.call(client, request, metadataWith(token), (error: grpc.ServiceError | null, response?: WireSuccess) =>
      error ? reject(error) : resolve(response ?? { success: false, callId: "" }),
    );
  });
}

function joinCall(userId: string): StreamReader<WireMessage> {
  const JoinCall = client.JoinCall;
  if (!JoinCall) throw new Error("no method JoinCall");
  const stream: grpc.ClientReadableStream<WireMessage> = JoinCall.call(client, { userId });
  return streams.add(new StreamReader<WireMessage>(stream, () => stream.cancel()));
}

async function nextWire(reader: StreamReader<WireMessage>, event: string): Promise<WireMessage> {
  for (;;) {
    const message = await reader.next();
    if (message.event === "heartbeat") continue;
    expect(message.event).toBe(event);
    return message;
  }
}

async function joinAs(userId: string): Promise<{ reader: StreamReader<WireMessage>; token: string }> {
  const reader = joinCall(userId);
  const joined = await nextWire(reader, "joined");
  expect(joined.seq).toBe("1");
  return { reader, token: joined.joined?.sessionToken ?? "" };
}

async function serviceError(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isServiceError(error)) throw new Error(`expected a gRPC status error, got ${String(error)}`);
  return error;
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && "code" in error && "metadata" in error && error.metadata instanceof grpc.Metadata;
}

describe("a stock grpc-js client", () => {
  it("sets up and ends a call", async () => {
    const alice = await joinAs("alice");
    const bob = await joinAs("bob");
    expect(alice.token).not.toBe("");

    const withOffer: WireCandidate[] = [{ candidate: "candidate:0 1 udp 2122260223 10.0.0.1 4999 typ host", sdpMid: "0" }];
    const sent = await unary("SendOffer", { toUserId: "bob", sdp: "offer-sdp", candidates: withOffer }, alice.token);
    expect(sent.success).toBe(true);
    const offer = await nextWire(bob.reader, "offer");
    expect(offer).toMatchObject({ seq: "2", fromUserId: "alice", callId: sent.callId });
    expect(offer.offer).toMatchObject({ sdp: "offer-sdp", renegotiation: false, polite: true, endOfCandidates: false });
    expect(offer.offer?.candidates.map(pickCandidate)).toEqual(withOffer);
    const callId = offer.callId;

    // The answer while bob's phone rings, then the one that accepts.
    for (const ringing of [true, false]) {
      await unary("SendAnswer", { callId, sdp: "answer-sdp", ringing }, bob.token);
      expect((await nextWire(alice.reader, "answer")).answer).toEqual({
        sdp: "answer-sdp",
        polite: false,
        candidates: [],
        endOfCandidates: false,
        ringing,
      });
    }

    const fromAlice: WireCandidate[] = [
      { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", sdpMid: "0", sdpMlineIndex: 0, usernameFragment: "aUf" },
      { candidate: "candidate:2 1 udp 1686052607 203.0.113.7 5001 typ srflx", sdpMid: "video", sdpMlineIndex: 1 },
    ];
    const fromBob: WireCandidate[] = [
      { candidate: "candidate:3 1 tcp 1518280447 10.0.0.2 9 typ host tcptype active", sdpMlineIndex: 2, usernameFragment: "bUf" },
    ];
    await unary("SendIceCandidate", { callId, candidates: fromAlice }, alice.token);
    await unary("SendIceCandidate", { callId, candidates: fromBob, endOfCandidates: true }, bob.token);
    const toBob = await nextWire(bob.reader, "iceCandidates");
    const toAlice = await nextWire(alice.reader, "iceCandidates");
    expect(toBob.iceCandidates?.candidates.map(pickCandidate)).toEqual(fromAlice);
    expect(toBob.iceCandidates?.endOfCandidates).toBe(false);
    expect(toAlice.iceCandidates?.candidates.map(pickCandidate)).toEqual(fromBob);
    expect(toAlice.iceCandidates?.endOfCandidates).toBe(true);

    await unary("EndCall", { callId, reason: "END_REASON_HANGUP" }, alice.token);
    const ended = await nextWire(bob.reader, "callEnded");
    expect(ended).toMatchObject({ fromUserId: "alice", callId });
    expect(ended.callEnded).toEqual({ reason: "END_REASON_HANGUP", endedByUserId: "alice" });
  });

  it("gets NOT_FOUND with reason USER_OFFLINE when calling someone offline", async () => {
    const alice = await joinAs("alice");
    const error = await serviceError(unary("SendOffer", { toUserId: "ghost", sdp: "offer-sdp" }, alice.token));
    expect(error.code).toBe(grpc.status.NOT_FOUND);
    expect(error.code).toBe(5);
    expect(error.metadata.get("p2b-error-reason")).toEqual(["USER_OFFLINE"]);
    expect(error.details).toContain("ghost");
  });

  it("gets UNAUTHENTICATED without a token, and ALREADY_EXISTS on the stream for a taken ID", async () => {
    const unauthenticated = await serviceError(unary("SendOffer", { toUserId: "ghost", sdp: "offer-sdp" }));
    expect(unauthenticated.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(unauthenticated.metadata.get("p2b-error-reason")).toEqual(["NO_TOKEN"]);

    await joinAs("alice");
    const taken = await serviceError(joinCall("alice").next());
    expect(taken.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(taken.metadata.get("p2b-error-reason")).toEqual(["ID_TAKEN"]);
  });
});

/** The candidate's fields without proto-loader's virtual oneof keys (`_sdpMid`, …). */
function pickCandidate(candidate: WireCandidate): WireCandidate {
  const { candidate: line, sdpMid, sdpMlineIndex, usernameFragment } = candidate;
  return {
    candidate: line,
    ...(sdpMid === undefined ? {} : { sdpMid }),
    ...(sdpMlineIndex === undefined ? {} : { sdpMlineIndex }),
    ...(usernameFragment === undefined ? {} : { usernameFragment }),
  };
}
