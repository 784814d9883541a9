export * from "./gen/peertobeer/signaling/v1/signaling_pb.js";
export * from "./limits.js";
export * from "./errors.js";
