import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_KEY, isErrorReason, type ErrorReason } from "@peertobeer/protocol";

/** A failed RPC: the gRPC status, the server's machine-readable reason and its message. */
export class SignalingError extends Error {
  constructor(
    readonly code: Code,
    readonly reason: ErrorReason | undefined,
    message: string,
    /** The call the server pointed at (e.g. the existing call on call-start glare). */
    readonly callId: string | undefined,
    /**
     * No server answered: the connection was refused, reset or cut before a response (a
     * restarting node, a keep-alive connection closed under the request). Safe to send again.
     */
    readonly unreachable = false,
  ) {
    super(message);
    this.name = "SignalingError";
  }

  static from(error: unknown): SignalingError {
    if (error instanceof SignalingError) return error;
    const connectError = ConnectError.from(error);
    const reason = connectError.metadata.get(ERROR_REASON_KEY);
    // A status the server sent has no cause; a failure of the network under the request keeps
    // the original error (fetch's TypeError, Node's ECONNRESET/EPIPE) as its cause.
    const networkFailure = connectError.cause !== undefined && !(connectError.cause instanceof ConnectError);
    return new SignalingError(
      connectError.code,
      isErrorReason(reason) ? reason : undefined,
      connectError.rawMessage,
      connectError.metadata.get("p2b-call-id") ?? undefined,
      reason === null && (connectError.code === Code.Unavailable || networkFailure),
    );
  }
}

export { Code };
