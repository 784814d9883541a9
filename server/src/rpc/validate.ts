import { Code } from "@connectrpc/connect";
import { EndReason, ErrorReason, LIMITS, userIdProblem, type IceCandidate } from "@peertobeer/protocol";
import { rpcError } from "./errors.js";

const CALL_ID_MAX = 64;
const SDP_MID_MAX = 64;
const UFRAG_MAX = 256;

function invalid(message: string) {
  return rpcError(Code.InvalidArgument, ErrorReason.INVALID_REQUEST, message);
}

export function checkUserId(id: string, field: string): void {
  const problem = userIdProblem(id);
  if (problem) throw rpcError(Code.InvalidArgument, ErrorReason.INVALID_ID, `${field}: ${problem}`);
}

export function checkCallId(callId: string, required: boolean): void {
  if (required && callId === "") throw invalid("call_id is required.");
  if (callId.length > CALL_ID_MAX) throw invalid(`call_id is at most ${CALL_ID_MAX} characters.`);
}

export function checkSdp(sdp: string): void {
  if (sdp === "") throw invalid("sdp is required.");
  const bytes = Buffer.byteLength(sdp, "utf8");
  if (bytes > LIMITS.sdpMaxBytes) throw invalid(`sdp is ${bytes} bytes; the limit is ${LIMITS.sdpMaxBytes}.`);
}

/**
 * An answer sent while the phone rings tells the caller no address (AnswerRequest.ringing):
 * neither a candidate beside it nor one inside its SDP.
 */
export function checkRingingAnswer(sdp: string, candidates: IceCandidate[], endOfCandidates: boolean): void {
  if (candidates.length > 0 || endOfCandidates) throw invalid("A ringing answer carries no candidates; they go with the answer that accepts.");
  if (/^a=candidate:/m.test(sdp)) throw invalid("A ringing answer's sdp holds no candidates; they go with the answer that accepts.");
}

/** `alone`: the batch is a request of its own (SendIceCandidate), so it must say something. */
export function checkCandidates(candidates: IceCandidate[], endOfCandidates: boolean, alone = true): void {
  if (alone && candidates.length === 0 && !endOfCandidates) throw invalid("candidates is empty.");
  if (candidates.length > LIMITS.candidatesPerBatch) {
    throw invalid(`${candidates.length} candidates in one batch; the limit is ${LIMITS.candidatesPerBatch}.`);
  }
  for (const [index, c] of candidates.entries()) {
    const bytes = Buffer.byteLength(c.candidate, "utf8");
    if (bytes > LIMITS.candidateMaxBytes) {
      throw invalid(`candidates[${index}] is ${bytes} bytes; the limit is ${LIMITS.candidateMaxBytes}.`);
    }
    if ((c.sdpMid?.length ?? 0) > SDP_MID_MAX) throw invalid(`candidates[${index}].sdp_mid is too long.`);
    if ((c.usernameFragment?.length ?? 0) > UFRAG_MAX) throw invalid(`candidates[${index}].username_fragment is too long.`);
    if (c.candidate !== "" && c.sdpMid === undefined && c.sdpMlineIndex === undefined) {
      throw invalid(`candidates[${index}] needs sdp_mid or sdp_mline_index.`);
    }
  }
}

export function checkEndReason(reason: EndReason): void {
  if (!(reason in EndReason)) throw invalid(`reason ${reason} is not a known EndReason.`);
}
