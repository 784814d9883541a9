export { SignalingClient, toWireCandidate, fromWireCandidate } from "./signaling-client.js";
export type {
  CandidateBurst,
  ConnectionState,
  JoinedInfo,
  SessionStore,
  SignalingClientOptions,
  SignalingEvents,
  StoredSession,
} from "./signaling-client.js";
export {
  CANDIDATE_TIMING,
  CONNECT_TIMEOUT_MS,
  PeerCall,
  type CallSignaling,
  type ConnectFailureCause,
  type ControlMessage,
  type PeerCallOptions,
} from "./peer-call.js";
export { FIRST_FRAMES, limitVideoHeight, meshVideoLimit, type VideoSender } from "./first-frames.js";
export { preferredCodecs, type CodecCapability } from "./codecs.js";
export {
  Phone,
  type CallDirection,
  type CallOutcome,
  type CallPhase,
  type CallView,
  type ParticipantChange,
  type ParticipantEvent,
  type ParticipantView,
  type PhoneSnapshot,
} from "./phone.js";
export {
  checkNetwork,
  describeNetwork,
  splitIceServers,
  NETWORK_CHECK_TIMEOUT_MS,
  type NetworkCheckOptions,
  type NetworkCheckResult,
  type NetworkVerdict,
  type ProbeResult,
} from "./network-check.js";
export { DefaultReconnectPolicy, type ReconnectPolicy } from "./reconnect-policy.js";
export { SignalingError, Code } from "./errors.js";
export { Emitter } from "./emitter.js";
export { ChatRoom, CHAT_MAX_LENGTH, chatLength, type ChatMessage, type ChatSendResult, type ChatTransport, type ChatWire } from "./chat.js";
