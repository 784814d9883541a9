import type { ErrorReason } from "@peertobeer/protocol";

/** Domain failure kinds; the RPC layer maps each to its gRPC status. */
export type HubErrorKind =
  | "invalid_argument"
  | "not_found"
  | "already_exists"
  | "failed_precondition"
  | "aborted"
  | "permission_denied"
  | "resource_exhausted"
  | "unavailable";

export class HubError extends Error {
  constructor(
    readonly kind: HubErrorKind,
    readonly reason: ErrorReason,
    message: string,
    /** The call the refusal is about, when there is one (e.g. the winning call on glare). */
    readonly callId?: string,
  ) {
    super(message);
    this.name = "HubError";
  }
}
