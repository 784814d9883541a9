import type { ErrorReason } from "@peertobeer/protocol";

/** Domain failure kinds; the RPC layer maps each to its gRPC status. */
export type HubErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "permission_denied"
  | "unauthenticated"
  | "resource_exhausted"
  | "unavailable";

/**
 * Builds an error without capturing a stack trace. Refusals are expected answers (a fuzzing or
 * misbehaving client causes thousands), and the stack trace is most of what an error costs.
 */
export function withoutStackTrace<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export class HubError extends Error {
  readonly kind: HubErrorKind;
  readonly reason: ErrorReason;
  /** The call the refusal is about, when there is one (e.g. the winning call on glare). */
  readonly callId: string | undefined;

  constructor(kind: HubErrorKind, reason: ErrorReason, message: string, callId?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0; // see withoutStackTrace
    super(message);
    Error.stackTraceLimit = limit;
    this.name = "HubError";
    this.kind = kind;
    this.reason = reason;
    this.callId = callId;
  }
}
