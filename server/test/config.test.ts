import { describe, expect, it } from "vitest";
import { IceTransportPolicy } from "@peertobeer/protocol";
import { loadConfig } from "../src/config.js";

describe("configuration from the environment", () => {
  it("has working defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: "0.0.0.0", port: 8080, grpcPort: 50051, turn: undefined, connectTimeoutMs: 15_000 });
    expect(config.iceServers).toEqual([{ urls: ["stun:stun.l.google.com:19302"] }]);
    expect(config.iceTransportPolicy).toBe(IceTransportPolicy.ALL);
  });

  it("reads TURN servers with their secret, and the relay-only policy", () => {
    const config = loadConfig({
      TURN_URLS: "turn:turn.example.com:3478, turns:turn.example.com:5349",
      TURN_SECRET: "s3cret",
      TURN_CREDENTIAL_TTL_S: "600",
      ICE_TRANSPORT_POLICY: "relay",
    });
    expect(config.turn).toEqual({ urls: ["turn:turn.example.com:3478", "turns:turn.example.com:5349"], secret: "s3cret", ttlSeconds: 600 });
    expect(config.iceTransportPolicy).toBe(IceTransportPolicy.RELAY);
  });

  it("turns on cluster mode with REDIS_URL and a shared TOKEN_SECRET", () => {
    expect(loadConfig({ REDIS_URL: "redis://10.0.0.5:6379/2", TOKEN_SECRET: "shared" })).toMatchObject({
      redisUrl: "redis://10.0.0.5:6379/2",
      redisPrefix: "p2b",
      tokenSecret: "shared",
    });
    expect(loadConfig({}).redisUrl).toBeUndefined();
  });

  it.each([
    [{ TURN_URLS: "turn:turn.example.com" }, "TURN_URLS and TURN_SECRET go together"],
    [{ TURN_SECRET: "s3cret" }, "TURN_URLS and TURN_SECRET go together"],
    [{ TLS_CERT: "/etc/cert.pem" }, "TLS_CERT and TLS_KEY go together"],
    [{ TLS_KEY: "/etc/key.pem" }, "TLS_CERT and TLS_KEY go together"],
    [{ TURN_URLS: "stun:x", TURN_SECRET: "s" }, "is not a turn: or turns: URL"],
    [{ ICE_TRANSPORT_POLICY: "none" }, 'ICE_TRANSPORT_POLICY must be "all" or "relay"'],
    [{ ICE_SERVERS: "http://nope" }, "is not a stun:, turn: or turns: URL"],
    [{ PORT: "70000" }, "PORT must be a port number"],
    [{ RING_TIMEOUT_MS: "-1" }, "RING_TIMEOUT_MS must be a positive integer"],
    [{ REDIS_URL: "redis://127.0.0.1:6379" }, "TOKEN_SECRET is required with REDIS_URL"],
    [{ REDIS_URL: "127.0.0.1:6379", TOKEN_SECRET: "s" }, "REDIS_URL must be a redis:// or rediss:// URL"],
    [{ REDIS_PREFIX: "a{b}" }, "REDIS_PREFIX must be 1-32 of"],
    [{ CONNECT_TIMEOUT_MS: "15s" }, "CONNECT_TIMEOUT_MS must be a positive integer"],
  ])("refuses %o with a clear message", (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
