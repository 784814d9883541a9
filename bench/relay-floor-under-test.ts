/**
 * The floor for B1: our two transports (transport/grpc.ts, transport/grpc-web.ts, on
 * node:http2 and node:http) around a relay that does nothing else: no tokens, no validation,
 * no call state machine, no history. The bench's simulated clients run against it unchanged;
 * what Peer-to-Beer costs above this is its own logic, and this itself is what Node's HTTP
 * stacks cost for the same requests. Started by bench/run.ts; never run by hand.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { SignalingMessageSchema } from "@peertobeer/protocol";
import type { Sink } from "../server/src/hub/index.js";
import type { Signaling } from "../server/src/rpc/signaling.js";
import { createGrpcServer } from "../server/src/transport/grpc.js";
import { createGrpcWebHandler } from "../server/src/transport/grpc-web.js";
import { createRoutes } from "../server/src/transport/routes.js";
import { serve } from "./lib/ipc.js";
import { readStats, type TargetInfo, type TargetMethods } from "./targets/introspect.js";

const sinks = new Map<string, Sink>();
const calls = new Map<string, { caller: string; callee: string }>();
let nextCall = 0;

/** The user a bearer token names: the token is the user id itself. */
const userOf = (authorization: string | undefined) => authorization?.slice("Bearer ".length) ?? "";

type Event = NonNullable<MessageInitShape<typeof SignalingMessageSchema>["event"]>;

function relay(from: string, callId: string, event: Event) {
  const call = calls.get(callId);
  const to = call && (call.caller === from ? call.callee : call.caller);
  if (to) sinks.get(to)?.push(create(SignalingMessageSchema, { fromUserId: from, callId, event }));
}

const signaling: Signaling = {
  async joinCall(request, sink) {
    sinks.set(request.userId, sink);
    sink.push(create(SignalingMessageSchema, { seq: 1n, event: { case: "joined", value: { sessionToken: request.userId } } }));
    // The transports only hand the session back to streamEnded, which ignores it.
    return { id: request.userId, userId: request.userId };
  },
  streamEnded(session, sink) {
    if (sinks.get(session.userId) === sink) sinks.delete(session.userId);
  },
  async sendOffer(request, authorization) {
    const from = userOf(authorization);
    const callId = request.callId || `c${nextCall++}`;
    if (!request.callId) calls.set(callId, { caller: from, callee: request.toUserId });
    relay(from, callId, { case: "offer", value: { sdp: request.sdp, candidates: request.candidates, endOfCandidates: request.endOfCandidates } });
    return { success: true, callId };
  },
  async sendAnswer(request, authorization) {
    relay(userOf(authorization), request.callId, {
      case: "answer",
      value: { sdp: request.sdp, candidates: request.candidates, endOfCandidates: request.endOfCandidates },
    });
    return { success: true, callId: request.callId };
  },
  async sendIceCandidate(request, authorization) {
    relay(userOf(authorization), request.callId, {
      case: "iceCandidates",
      value: { candidates: request.candidates, endOfCandidates: request.endOfCandidates },
    });
    return { success: true, callId: request.callId };
  },
  async endCall(request, authorization) {
    relay(userOf(authorization), request.callId, { case: "callEnded", value: { reason: request.reason } });
    calls.delete(request.callId);
    return { success: true, callId: request.callId };
  },
};

const routes = createRoutes(signaling);
const onInternalError = (error: unknown) => console.error(error);
const grpcWeb = createGrpcWebHandler({ routes, streamQueueLimit: 256, onInternalError });
const web = http.createServer((req, res) => grpcWeb(req, res));
web.requestTimeout = 0;
await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
const native = createGrpcServer({ routes, streamQueueLimit: 256, onInternalError });
const grpcPort = await native.listen(0, "127.0.0.1");

const info: TargetInfo = { system: "ours", webPort: (web.address() as AddressInfo).port, grpcPort };
serve<TargetMethods>({ stats: ({ gc }) => readStats(gc, () => sinks.size) }, info);
