import { Code, type CallOutcome, type ConnectFailureCause, type ParticipantEvent, type SignalingError } from "@peertobeer/client";
import { EndReason, ErrorReason } from "@peertobeer/protocol";

export interface Notice {
  text: string;
  /** alert: something went wrong the user should act on; status: plain information. */
  tone: "alert" | "status";
}

/** Why joining failed, in words. */
export function joinErrorText(error: SignalingError, userId: string): string {
  switch (error.reason) {
    case ErrorReason.ID_TAKEN:
      return `The ID "${userId}" is already taken. Choose another one.`;
    case ErrorReason.INVALID_ID:
      return error.message.replace(/^user_id: /, "");
    case ErrorReason.SERVER_FULL:
      return "The server is full right now. Try again in a minute.";
    default:
      return error.code === Code.Unavailable || error.code === Code.Unknown
        ? "Can't reach the server. Check your connection and try again."
        : error.message;
  }
}

/** What the user is told when a call ends or cannot start. */
export function outcomeNotice(outcome: CallOutcome): Notice {
  const peer = outcome.peer;
  if (outcome.kind === "failed") {
    switch (outcome.error.reason) {
      case ErrorReason.USER_OFFLINE:
        return { tone: "alert", text: `${peer} is not online.` };
      case ErrorReason.USER_BUSY:
        return { tone: "alert", text: `${peer} is busy in another call.` };
      case ErrorReason.INVALID_ID:
        return { tone: "alert", text: outcome.error.message.replace(/^to_user_id: /, "") };
      case ErrorReason.INVALID_REQUEST:
        return { tone: "alert", text: outcome.error.message };
      default:
        return { tone: "alert", text: `Could not call ${peer}: ${outcome.error.message}` };
    }
  }
  const { reason, by, direction, connected } = outcome;
  if (reason === EndReason.CONNECT_FAILED) {
    // Whoever gave up first, both sides are told the same way, with the cause this side saw.
    const why = connectFailureText(outcome.cause);
    if (connected) return { tone: "alert", text: `Connection lost with ${peer}: could not reconnect (${why}).` };
    return direction === "incoming"
      ? { tone: "alert", text: `Could not connect the call from ${peer}: ${why}.` }
      : { tone: "alert", text: `Could not connect to ${peer}: ${why}.` };
  }
  if (by === "me") {
    if (reason === EndReason.DECLINED) return { tone: "status", text: `You declined the call from ${peer}.` };
    if (reason === EndReason.CANCELED) return { tone: "status", text: `Call to ${peer} canceled.` };
    if (reason === EndReason.ERROR) return { tone: "alert", text: `The call with ${peer} failed.` };
    return { tone: "status", text: `Call with ${peer} ended.` };
  }
  switch (reason) {
    case EndReason.HANGUP:
      return { tone: "status", text: `${peer} hung up.` };
    case EndReason.DECLINED:
      return { tone: "alert", text: `${peer} declined your call.` };
    case EndReason.BUSY:
      return { tone: "alert", text: `${peer} is busy.` };
    case EndReason.CANCELED:
      return { tone: "alert", text: `Missed call from ${peer}.` };
    case EndReason.NO_ANSWER:
      return direction === "incoming"
        ? { tone: "alert", text: `Missed call from ${peer}.` }
        : { tone: "alert", text: `${peer} didn't answer.` };
    case EndReason.PEER_GONE:
      return { tone: "alert", text: `Connection lost with ${peer}.` };
    default:
      return { tone: "alert", text: connected ? `Connection lost with ${peer}.` : `The call with ${peer} failed.` };
  }
}

/** "alice", "alice and bob", "alice, bob and carol". */
export function listOfNames(names: readonly string[]): string {
  if (names.length <= 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/** What the others in a call that goes on are told when someone comes, goes or cannot be added. */
export function participantNotice(event: ParticipantEvent): Notice {
  const who = event.userId;
  switch (event.kind) {
    case "joined":
      return { tone: "status", text: `${who} joined.` };
    case "left":
      return event.reason === EndReason.CONNECT_FAILED
        ? { tone: "alert", text: `${who} could not connect and left.` }
        : { tone: "status", text: `${who} left.` };
    case "lost":
      return { tone: "alert", text: `Connection lost with ${who}${event.cause ? ` (${connectFailureText(event.cause)})` : ""}.` };
    case "inviteFailed":
      switch (event.reason) {
        case EndReason.DECLINED:
          return { tone: "alert", text: `${who} declined.` };
        case EndReason.BUSY:
          return { tone: "alert", text: `${who} is busy.` };
        case EndReason.NO_ANSWER:
          return { tone: "alert", text: `${who} didn't answer.` };
        default:
          return { tone: "alert", text: `${who} could not be reached.` };
      }
    case "inviteRefused":
      switch (event.error.reason) {
        case ErrorReason.USER_OFFLINE:
          return { tone: "alert", text: `${who} is not online.` };
        case ErrorReason.USER_BUSY:
          return { tone: "alert", text: `${who} is busy in another call.` };
        case ErrorReason.CALL_FULL:
          return { tone: "alert", text: `Cannot add ${who}: the call is full.` };
        case ErrorReason.INVALID_ID:
          return { tone: "alert", text: event.error.message.replace(/^to_user_id: /, "") };
        default:
          return { tone: "alert", text: `Could not add ${who}: ${event.error.message}` };
      }
  }
}

/** The likely cause of a call that could not connect, as the SDK saw it. */
export function connectFailureText(cause: ConnectFailureCause | undefined): string {
  switch (cause) {
    case "relay-refused":
      return "the relay server refused the credentials";
    case "relay-unreachable":
      return "the relay server could not be reached";
    case "no-candidates":
      return "no usable network address";
    default:
      return "no network path between you";
  }
}
