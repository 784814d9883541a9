import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_KEY, type ErrorReason } from "@peertobeer/protocol";
import { HubError, withoutStackTrace, type HubErrorKind } from "../hub/index.js";

const CODE_OF_KIND: Record<HubErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  failed_precondition: Code.FailedPrecondition,
  aborted: Code.Aborted,
  permission_denied: Code.PermissionDenied,
  unauthenticated: Code.Unauthenticated,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
};

/** A gRPC error with its machine-readable reason in the `p2b-error-reason` trailer. */
export function rpcError(code: Code, reason: ErrorReason | undefined, message: string, callId?: string): ConnectError {
  const metadata = new Headers();
  if (reason) metadata.set(ERROR_REASON_KEY, reason);
  if (callId) metadata.set("p2b-call-id", callId);
  return withoutStackTrace(() => new ConnectError(message, code, metadata));
}

/** Domain errors become their gRPC status; anything else is left for the transport (INTERNAL). */
export function toRpcError(error: unknown): unknown {
  if (error instanceof HubError) return rpcError(CODE_OF_KIND[error.kind], error.reason, error.message, error.callId);
  return error;
}
