import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/src/config.js";
import { startServer, type RunningServer } from "../../../server/src/server.js";
import { SignalingClient } from "../src/index.js";

/* The SDK against a real server: what `joined` and `ice_servers_update` configure. */

describe("SignalingClient with TURN credentials of a short TTL", () => {
  let server: RunningServer;
  let sdk: SignalingClient;

  beforeEach(async () => {
    const config = loadConfig({
      HOST: "127.0.0.1",
      PORT: "0",
      GRPC_PORT: "0",
      ICE_SERVERS: "",
      TURN_URLS: "turn:127.0.0.1:3478?transport=tcp",
      TURN_SECRET: "sdk-test-secret",
      // Refreshed every second: each refresh names a later expiry second than the one before.
      TURN_CREDENTIAL_TTL_S: "2",
      ICE_TRANSPORT_POLICY: "relay",
      CONNECT_TIMEOUT_MS: "4000",
    });
    server = await startServer(config, pino({ level: "silent" }));
    sdk = new SignalingClient({
      transport: createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${server.webPort}`, httpVersion: "1.1" }),
    });
  });

  afterEach(async () => {
    sdk.leave();
    await server.shutdown();
  });

  it("takes the connect timeout from joined, and fresh ICE servers from the stream, keeping the policy", async () => {
    const joined = await sdk.join("alice");
    expect(joined.connectTimeoutMs).toBe(4000);
    expect(sdk.connectTimeoutMs).toBe(4000);
    const first = joined.rtcConfiguration.iceServers?.[0]?.username;
    expect(first).toMatch(/^\d+:alice$/);
    const fresh = await new Promise<RTCConfiguration>((resolve) => sdk.on("iceServers", resolve));
    expect(fresh).toBe(sdk.rtcConfiguration);
    expect(fresh.iceTransportPolicy).toBe("relay");
    expect(fresh.iceServers).toEqual([
      { urls: ["turn:127.0.0.1:3478?transport=tcp"], username: expect.stringMatching(/^\d+:alice$/), credential: expect.any(String) },
    ]);
    expect(fresh.iceServers?.[0]?.username).not.toBe(first);
    expect(fresh.iceServers?.[0]?.credential).not.toBe(joined.rtcConfiguration.iceServers?.[0]?.credential);
  });
});
