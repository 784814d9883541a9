import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ErrorReason,
  SignalingService,
  type SignalingMessage,
  type UserRequest,
} from "@peertobeer/protocol";
import type { TokenSigner } from "../auth/tokens.js";
import type { Config } from "../config.js";
import type { Hub, Session, Sink } from "../hub/index.js";
import { rpcError, toRpcError, withRpcErrors } from "./errors.js";
import { StreamQueue } from "./stream-queue.js";
import { TokenBucket } from "./token-bucket.js";
import { checkCallId, checkCandidates, checkEndReason, checkSdp, checkUserId } from "./validate.js";

export interface HandlerDeps {
  hub: Hub;
  tokens: TokenSigner;
  config: Pick<Config, "iceServers" | "heartbeatMs" | "maxSessions" | "streamQueueLimit" | "rateLimitPerSec" | "rateLimitBurst">;
  /** True once the node is draining: new joins are refused so clients go elsewhere. */
  isDraining: () => boolean;
}

/**
 * The SignalingService, written once against the hub and mounted on every transport
 * (gRPC-Web/Connect in transport/web.ts, native gRPC in transport/grpc.ts).
 */
export function createSignalingHandlers(deps: HandlerDeps): ServiceImpl<typeof SignalingService> {
  const { hub, tokens } = deps;
  // Per session, so one noisy client cannot starve the others; dropped with the session.
  const buckets = new WeakMap<Session, TokenBucket>();

  /** The session named by the request's bearer token; the only source of the sender's identity. */
  function authenticate(context: HandlerContext, fromUserId: string): Session {
    const header = context.requestHeader.get("authorization");
    if (!header) throw rpcError(Code.Unauthenticated, ErrorReason.NO_TOKEN, "Missing authorization: Bearer <session token>.");
    const match = /^Bearer (\S+)$/.exec(header);
    if (!match?.[1]) throw rpcError(Code.Unauthenticated, ErrorReason.BAD_TOKEN, "Authorization must be 'Bearer <session token>'.");
    const check = tokens.verify(match[1]);
    if (!check.ok) throw rpcError(Code.Unauthenticated, ErrorReason.BAD_TOKEN, `Invalid session token: ${check.problem}.`);
    const session = hub.sessionById(check.claims.sessionId);
    if (!session || session.userId !== check.claims.userId) {
      throw rpcError(Code.Unauthenticated, ErrorReason.SESSION_ENDED, "This session has ended; join again.");
    }
    if (fromUserId !== "" && fromUserId !== session.userId) {
      throw rpcError(Code.PermissionDenied, ErrorReason.IMPERSONATION, `You are ${session.userId}; you cannot send as ${fromUserId}.`);
    }
    let bucket = buckets.get(session);
    if (!bucket) {
      bucket = new TokenBucket(deps.config.rateLimitBurst, deps.config.rateLimitPerSec);
      buckets.set(session, bucket);
    }
    if (!bucket.take()) {
      throw rpcError(Code.ResourceExhausted, ErrorReason.RATE_LIMITED, "Too many requests; slow down and retry shortly.");
    }
    return session;
  }

  /** Resumes the session named by the request's token when it can replay what the client missed. */
  function resume(request: UserRequest): Session | undefined {
    if (request.resumeToken === "") return undefined;
    const check = tokens.verify(request.resumeToken);
    if (!check.ok || check.claims.userId !== request.userId) return undefined;
    const resumable = hub.resumable(check.claims.sessionId, request.lastSeq);
    if (resumable) return resumable;
    // Too much was missed to replay: the old session cannot continue, so the user starts afresh.
    const stale = hub.sessionById(check.claims.sessionId);
    if (stale) hub.close(stale);
    return undefined;
  }

  function open(request: UserRequest): Session {
    if (deps.isDraining()) throw rpcError(Code.Unavailable, ErrorReason.DRAINING, "This server is restarting; try again.");
    if (hub.sessionCount >= deps.config.maxSessions) {
      throw rpcError(Code.ResourceExhausted, ErrorReason.SERVER_FULL, "The server is full; try again later.");
    }
    return hub.open(request.userId, request.watchPresence);
  }

  function joined(session: Session, resumed: boolean) {
    return {
      case: "joined" as const,
      value: {
        sessionId: session.id,
        sessionToken: tokens.sign(session.userId, session.id),
        iceServers: deps.config.iceServers,
        heartbeatIntervalMs: deps.config.heartbeatMs,
        serverTimeMs: BigInt(Date.now()),
        resumed,
        onlineUserIds: session.watchPresence ? hub.onlineUserIds().filter((id) => id !== session.userId) : [],
      },
    };
  }

  return {
    async *joinCall(request, context): AsyncGenerator<SignalingMessage> {
      checkUserId(request.userId, "user_id");
      const queue = new StreamQueue<SignalingMessage>(deps.config.streamQueueLimit);
      const sink: Sink = {
        push: (message) => {
          queue.push(message, () =>
            rpcError(Code.ResourceExhausted, ErrorReason.SLOW_READER, "Too many unread messages; stream closed."),
          );
        },
        replay: (messages) => queue.pushAll(messages),
        end: () => queue.end(),
      };
      let session: Session;
      try {
        const resumed = resume(request);
        session = resumed ?? open(request);
        hub.attach(session, sink);
        if (resumed) {
          session.control({ event: joined(session, true) });
          session.replayAfter(request.lastSeq);
        } else {
          session.send({ event: joined(session, false) });
        }
      } catch (error) {
        throw toRpcError(error);
      }
      const onAbort = () => queue.end();
      context.signal.addEventListener("abort", onAbort, { once: true });
      try {
        yield* queue;
      } finally {
        context.signal.removeEventListener("abort", onAbort);
        hub.detach(session, sink);
      }
    },

    sendOffer: withRpcErrors((request, context) => {
      const session = authenticate(context, request.fromUserId);
      checkCallId(request.callId, false);
      if (request.callId === "" || request.toUserId !== "") checkUserId(request.toUserId, "to_user_id");
      checkSdp(request.sdp);
      const callId = hub.offer(session, { toUserId: request.toUserId, callId: request.callId, sdp: request.sdp });
      return { success: true, callId };
    }),

    sendAnswer: withRpcErrors((request, context) => {
      const session = authenticate(context, request.fromUserId);
      checkCallId(request.callId, true);
      checkSdp(request.sdp);
      hub.answer(session, request.callId, request.sdp);
      return { success: true, callId: request.callId };
    }),

    sendIceCandidate: withRpcErrors((request, context) => {
      const session = authenticate(context, request.fromUserId);
      checkCallId(request.callId, true);
      checkCandidates(request.candidates, request.endOfCandidates);
      hub.candidates(session, request.callId, request.candidates, request.endOfCandidates);
      return { success: true, callId: request.callId };
    }),

    endCall: withRpcErrors((request, context) => {
      const session = authenticate(context, request.fromUserId);
      checkCallId(request.callId, true);
      checkEndReason(request.reason);
      hub.hangUp(session, request.callId, request.reason);
      return { success: true, callId: request.callId };
    }),
  };
}
