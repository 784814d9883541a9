import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  EndReason,
  ErrorReason,
  type AnswerRequest,
  type EndCallRequest,
  type IceCandidateRequest,
  type OfferRequest,
  type SuccessResponseSchema,
  type UserRequest,
} from "@peertobeer/protocol";
import type { Logger } from "pino";
import type { TokenSigner } from "../auth/tokens.js";
import type { Config } from "../config.js";
import type { JoinedFactory, JoinRequest, SessionHandle, SignalingBackend } from "../bus/backend.js";
import type { Sink } from "../hub/index.js";
import { rpcError, toRpcError } from "./errors.js";
import { TokenBucket } from "./token-bucket.js";
import { TurnRefresher } from "./turn-refresh.js";
import { checkCallId, checkCandidates, checkEndReason, checkRingingAnswer, checkSdp, checkUserId } from "./validate.js";

export interface SignalingDeps {
  backend: SignalingBackend;
  tokens: TokenSigner;
  config: Pick<
    Config,
    "iceServers" | "turn" | "maxCallParticipants" | "iceTransportPolicy" | "connectTimeoutMs" | "heartbeatMs" | "maxSessions" | "rateLimitPerSec" | "rateLimitBurst"
  >;
  /** True once the node is draining: new joins are refused so clients go elsewhere. */
  isDraining: () => boolean;
  /** Where calls that could not connect are reported (operators look for TURN trouble there). */
  logger?: Pick<Logger, "warn">;
}

export type SuccessResponseInit = MessageInitShape<typeof SuccessResponseSchema>;

/** A unary RPC: the request and the `authorization` header it came with. */
export type UnaryHandler<Req> = (request: Req, authorization: string | undefined) => Promise<SuccessResponseInit>;

/**
 * The SignalingService, written once against the backend and free of any transport: the
 * transports (transport/grpc.ts, transport/grpc-web.ts, and the Connect adapter in
 * rpc/handlers.ts) decode requests, call these, and frame what comes back. Every failure is
 * thrown as a ConnectError carrying its gRPC code and machine-readable reason.
 */
export interface Signaling {
  /**
   * Opens (or resumes) the caller's session and attaches `sink` to it; the `joined` message
   * and any replay have been pushed to `sink` when this resolves.
   */
  joinCall(request: UserRequest, sink: Sink): Promise<SessionHandle>;
  /** The stream behind `sink` ended; the session waits out its grace period. */
  streamEnded(session: SessionHandle, sink: Sink): void;
  sendOffer: UnaryHandler<OfferRequest>;
  sendAnswer: UnaryHandler<AnswerRequest>;
  sendIceCandidate: UnaryHandler<IceCandidateRequest>;
  endCall: UnaryHandler<EndCallRequest>;
}

export function createSignaling(deps: SignalingDeps): Signaling {
  const { backend, tokens } = deps;
  // Per session, so one noisy client cannot starve the others; dropped with the session.
  const buckets = new WeakMap<SessionHandle, TokenBucket>();
  // The tokens this node issued to its sessions, looked up as they are: the common request
  // needs neither parsing nor an HMAC (a token from elsewhere is still verified in full).
  const issued = new Map<string, { session: SessionHandle; expiresAt: number }>();
  const tokenOf = new Map<string, string>();
  backend.onSessionClosed((sessionId) => {
    const token = tokenOf.get(sessionId);
    if (token !== undefined) issued.delete(token);
    tokenOf.delete(sessionId);
  });
  const turn =
    deps.config.turn &&
    new TurnRefresher<SessionHandle>(deps.config.turn, deps.config.iceServers, (session, iceServers) =>
      backend.sendControl(session, { case: "iceServersUpdate", value: { iceServers } }),
    );
  if (turn) backend.onSessionClosed((sessionId) => turn.forget(sessionId));

  /** The session named by the bearer token; the only source of the sender's identity. */
  function authenticate(authorization: string | undefined, fromUserId: string): SessionHandle {
    if (!authorization) {
      throw rpcError(Code.Unauthenticated, ErrorReason.NO_TOKEN, "Missing authorization: Bearer <session token>.");
    }
    const token = authorization.startsWith("Bearer ") ? authorization.slice(7) : "";
    if (token === "" || /\s/.test(token)) {
      throw rpcError(Code.Unauthenticated, ErrorReason.BAD_TOKEN, "Authorization must be 'Bearer <session token>'.");
    }
    const session = sessionOf(token);
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

  function sessionOf(token: string): SessionHandle {
    const known = issued.get(token);
    if (known && known.expiresAt > Date.now()) return known.session;
    const check = tokens.verify(token);
    if (!check.ok) throw rpcError(Code.Unauthenticated, ErrorReason.BAD_TOKEN, `Invalid session token: ${check.problem}.`);
    const session = backend.session(check.claims.sessionId, check.claims.userId);
    if (!session) throw rpcError(Code.Unauthenticated, ErrorReason.SESSION_ENDED, "This session has ended; join again.");
    return session;
  }

  /** The session the request's resume token names, if the token is valid and the user's. */
  function resumeOf(request: UserRequest): JoinRequest["resume"] {
    if (request.resumeToken === "") return undefined;
    const check = tokens.verify(request.resumeToken);
    if (!check.ok || check.claims.userId !== request.userId) return undefined;
    return { sessionId: check.claims.sessionId, lastSeq: request.lastSeq };
  }

  const joined: JoinedFactory = (session, resumed, onlineUserIds) => {
    const now = Date.now();
    const sessionToken = tokens.sign(session.userId, session.id, now);
    const previous = tokenOf.get(session.id);
    if (previous !== undefined) issued.delete(previous);
    issued.set(sessionToken, { session, expiresAt: tokens.expiryOf(now) });
    tokenOf.set(session.id, sessionToken);
    return {
      sessionId: session.id,
      sessionToken,
      iceServers: turn ? turn.iceServersFor(session) : deps.config.iceServers,
      iceTransportPolicy: deps.config.iceTransportPolicy,
      connectTimeoutMs: deps.config.connectTimeoutMs,
      maxCallParticipants: deps.config.maxCallParticipants,
      heartbeatIntervalMs: deps.config.heartbeatMs,
      serverTimeMs: BigInt(now),
      resumed,
      onlineUserIds,
    };
  };

  /** Turns domain errors into their gRPC status; validation errors already are ConnectErrors. */
  function unary<Req>(handler: UnaryHandler<Req>): UnaryHandler<Req> {
    return async (request, authorization) => {
      try {
        return await handler(request, authorization);
      } catch (error) {
        throw toRpcError(error);
      }
    };
  }

  return {
    async joinCall(request, sink) {
      try {
        checkUserId(request.userId, "user_id");
        // Resumes too: a client told to reconnect must land on another node, not this one.
        if (deps.isDraining()) throw rpcError(Code.Unavailable, ErrorReason.DRAINING, "This server is restarting; try again.");
        if (!backend.ready()) {
          throw rpcError(Code.Unavailable, ErrorReason.STORE_UNAVAILABLE, "The server cannot reach its shared state; try again shortly.");
        }
        const resume = resumeOf(request);
        if (!resume && backend.localSessionCount >= deps.config.maxSessions) {
          throw rpcError(Code.ResourceExhausted, ErrorReason.SERVER_FULL, "The server is full; try again later.");
        }
        return await backend.join({ userId: request.userId, watchPresence: request.watchPresence, resume }, sink, joined);
      } catch (error) {
        throw toRpcError(error);
      }
    },

    streamEnded(session, sink) {
      backend.streamEnded(session, sink);
    },

    sendOffer: unary(async (request, authorization) => {
      const session = authenticate(authorization, request.fromUserId);
      checkCallId(request.callId, false);
      if (request.callId === "" || request.toUserId !== "") checkUserId(request.toUserId, "to_user_id");
      checkSdp(request.sdp);
      checkCandidates(request.candidates, request.endOfCandidates, false);
      const callId = await backend.offer(session, request);
      return { success: true, callId };
    }),

    sendAnswer: unary(async (request, authorization) => {
      const session = authenticate(authorization, request.fromUserId);
      checkCallId(request.callId, true);
      checkSdp(request.sdp);
      checkCandidates(request.candidates, request.endOfCandidates, false);
      if (request.ringing) checkRingingAnswer(request.sdp, request.candidates, request.endOfCandidates);
      if (request.toUserId !== "") checkUserId(request.toUserId, "to_user_id");
      await backend.answer(session, request);
      return { success: true, callId: request.callId };
    }),

    sendIceCandidate: unary(async (request, authorization) => {
      const session = authenticate(authorization, request.fromUserId);
      checkCallId(request.callId, true);
      checkCandidates(request.candidates, request.endOfCandidates);
      if (request.toUserId !== "") checkUserId(request.toUserId, "to_user_id");
      await backend.candidates(session, request.callId, request.candidates, request.endOfCandidates, request.toUserId);
      return { success: true, callId: request.callId };
    }),

    endCall: unary(async (request, authorization) => {
      const session = authenticate(authorization, request.fromUserId);
      checkCallId(request.callId, true);
      checkEndReason(request.reason);
      const recorded = await backend.hangUp(session, request.callId, request.reason);
      if (recorded === EndReason.CONNECT_FAILED) {
        // The clients say why in their UI; the operator learns of it here (often a TURN problem).
        deps.logger?.warn(
          { callId: request.callId, userId: session.userId, reason: "CONNECT_FAILED" },
          "call could not connect: no usable ICE candidate, or no path within the connect timeout (check TURN_URLS, TURN_SECRET and that clients can reach the TURN server)",
        );
      }
      return { success: true, callId: request.callId };
    }),
  };
}
