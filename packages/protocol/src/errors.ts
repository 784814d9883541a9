/**
 * Machine-readable reasons carried next to the gRPC status (in the `p2b-error-reason`
 * trailer), so clients can show a precise message without parsing text.
 */
export const ErrorReason = {
  INVALID_ID: "INVALID_ID",
  INVALID_REQUEST: "INVALID_REQUEST",
  ID_TAKEN: "ID_TAKEN",
  USER_OFFLINE: "USER_OFFLINE",
  USER_BUSY: "USER_BUSY",
  ALREADY_IN_CALL: "ALREADY_IN_CALL",
  CALL_GLARE: "CALL_GLARE",
  CALL_NOT_FOUND: "CALL_NOT_FOUND",
  CALL_FULL: "CALL_FULL",
  ALREADY_INVITED: "ALREADY_INVITED",
  NOT_IN_CALL: "NOT_IN_CALL",
  WRONG_STATE: "WRONG_STATE",
  IMPERSONATION: "IMPERSONATION",
  NO_TOKEN: "NO_TOKEN",
  BAD_TOKEN: "BAD_TOKEN",
  SESSION_ENDED: "SESSION_ENDED",
  RATE_LIMITED: "RATE_LIMITED",
  SERVER_FULL: "SERVER_FULL",
  SLOW_READER: "SLOW_READER",
  DRAINING: "DRAINING",
  STORE_UNAVAILABLE: "STORE_UNAVAILABLE",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  COMPRESSION_UNSUPPORTED: "COMPRESSION_UNSUPPORTED",
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

export const ERROR_REASON_KEY = "p2b-error-reason";

export function isErrorReason(value: string | null | undefined): value is ErrorReason {
  return value != null && Object.hasOwn(ErrorReason, value);
}
