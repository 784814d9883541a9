/**
 * The protobuf message each fuzz request travels as, and the way back: a decoded request
 * message as the fuzz request the model judges.
 */
import { create } from "@bufbuild/protobuf";
import {
  AnswerRequestSchema,
  EndCallRequestSchema,
  IceCandidateRequestSchema,
  IceCandidateSchema,
  OfferRequestSchema,
  UserRequestSchema,
  type AnswerRequest,
  type EndCallRequest,
  type IceCandidate,
  type IceCandidateRequest,
  type OfferRequest,
  type UserRequest,
} from "@peertobeer/protocol";
import {
  text,
  type AuthCase,
  type CandidateSpec,
  type FuzzRequest,
  type JoinRequest,
  type TokenCase,
  type Transport,
  type UnaryRequest,
} from "./model.js";

/** A unary request's message, tagged with its method. */
export type UnaryMessage =
  | { method: "sendOffer"; message: OfferRequest }
  | { method: "sendAnswer"; message: AnswerRequest }
  | { method: "sendIceCandidate"; message: IceCandidateRequest }
  | { method: "endCall"; message: EndCallRequest };

function candidateOf(spec: CandidateSpec): IceCandidate {
  return create(IceCandidateSchema, {
    candidate: text(spec.candidate),
    ...(spec.sdpMid === undefined ? {} : { sdpMid: text(spec.sdpMid) }),
    ...(spec.sdpMlineIndex === undefined ? {} : { sdpMlineIndex: spec.sdpMlineIndex }),
    ...(spec.usernameFragment === undefined ? {} : { usernameFragment: text(spec.usernameFragment) }),
  });
}

function specOf(candidate: IceCandidate): CandidateSpec {
  return {
    candidate: candidate.candidate,
    sdpMid: candidate.sdpMid,
    sdpMlineIndex: candidate.sdpMlineIndex,
    usernameFragment: candidate.usernameFragment,
  };
}

export function userRequestOf(request: JoinRequest): UserRequest {
  const { userId, lastSeq, watchPresence } = request;
  return create(UserRequestSchema, { userId, resumeToken: request.resumeToken?.token ?? "", lastSeq, watchPresence });
}

export function unaryMessageOf(request: UnaryRequest): UnaryMessage {
  const { callId, fromUserId } = request;
  switch (request.method) {
    case "sendOffer": {
      const { toUserId, endOfCandidates } = request;
      const [sdp, candidates] = [text(request.sdp), request.candidates.map(candidateOf)];
      const message = create(OfferRequestSchema, { toUserId, callId, sdp, fromUserId, candidates, endOfCandidates });
      return { method: "sendOffer", message };
    }
    case "sendAnswer": {
      const { endOfCandidates } = request;
      const [sdp, candidates] = [text(request.sdp), request.candidates.map(candidateOf)];
      return { method: "sendAnswer", message: create(AnswerRequestSchema, { callId, sdp, fromUserId, candidates, endOfCandidates }) };
    }
    case "sendIceCandidate": {
      const { endOfCandidates } = request;
      const candidates = request.candidates.map(candidateOf);
      return { method: "sendIceCandidate", message: create(IceCandidateRequestSchema, { callId, candidates, endOfCandidates, fromUserId }) };
    }
    case "endCall":
      return { method: "endCall", message: create(EndCallRequestSchema, { callId, reason: request.reason, fromUserId }) };
  }
}

/** A request message as the server decoded it, tagged with its method. */
export type DecodedMessage = UnaryMessage | { method: "joinCall"; message: UserRequest };

/**
 * A message the server decoded from raw bytes, as the fuzz request the model judges, sent over
 * `transport` with `auth`. A resume token in it is never one the server issued.
 */
export function requestFrom(decoded: DecodedMessage, transport: Transport, auth: AuthCase): FuzzRequest {
  const batch = (m: { candidates: IceCandidate[]; endOfCandidates: boolean }) => ({
    candidates: m.candidates.map(specOf),
    endOfCandidates: m.endOfCandidates,
  });
  switch (decoded.method) {
    case "joinCall": {
      const { userId, resumeToken, lastSeq, watchPresence } = decoded.message;
      const token: TokenCase | undefined = resumeToken === "" ? undefined : { label: "raw", token: resumeToken, verdict: { kind: "invalid" } };
      return { method: "joinCall", transport, userId, resumeToken: token, lastSeq, watchPresence };
    }
    case "sendOffer": {
      const { fromUserId, callId, toUserId, sdp } = decoded.message;
      return { method: "sendOffer", transport, auth, fromUserId, callId, toUserId, sdp, ...batch(decoded.message) };
    }
    case "sendAnswer": {
      const { fromUserId, callId, sdp } = decoded.message;
      return { method: "sendAnswer", transport, auth, fromUserId, callId, sdp, ...batch(decoded.message) };
    }
    case "sendIceCandidate": {
      const { fromUserId, callId } = decoded.message;
      return { method: "sendIceCandidate", transport, auth, fromUserId, callId, ...batch(decoded.message) };
    }
    case "endCall": {
      const { fromUserId, callId, reason } = decoded.message;
      return { method: "endCall", transport, auth, fromUserId, callId, reason };
    }
  }
}
