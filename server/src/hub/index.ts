export { Hub, type HubObserver, type HubOptions, type HubSnapshot, type AnswerInput, type OfferInput } from "./hub.js";
export { Call, CALL_TRANSITIONS, IllegalTransitionError, type CallState, type Invite } from "./call.js";
export { HubError, withoutStackTrace, type HubErrorKind } from "./errors.js";
export { Session, type EventInit, type HistoryLimit, type Sink } from "./session.js";
