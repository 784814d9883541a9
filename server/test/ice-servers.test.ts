import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server.js";
import { ICE_SERVERS_RATE, PRECALL_TURN_TTL_S } from "../src/transport/ice-servers.js";
import { request } from "./raw-http.js";
import { startTestServer } from "./helpers.js";

const SECRET = "coturn-static-auth-secret";
interface Answer {
  iceServers: { urls: string[]; username?: string; credential?: string }[];
  expiresAt?: string;
}

describe("GET /ice-servers (the pre-call check's STUN and TURN servers)", () => {
  let server: RunningServer;
  // Requests from 127.0.0.1 are limited by the address a local proxy put in X-Forwarded-For:
  // each test is a client of its own.
  let client = 0;
  const from = () => ({ headers: { "x-forwarded-for": `203.0.113.${++client}` } });

  beforeAll(async () => {
    server = await startTestServer({
      ICE_SERVERS: "stun:stun.example.com:3478",
      TURN_URLS: "turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349?transport=tcp",
      TURN_SECRET: SECRET,
    });
  });
  afterAll(() => server.shutdown());

  it("hands out the STUN servers and TURN credentials minted like a session's, expiring within 10 minutes", async () => {
    const before = Math.floor(Date.now() / 1000);
    const response = await request(server.webPort, "/ice-servers", from());
    expect(response.status).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.headers["cache-control"]).toBe("no-store");
    const answer = JSON.parse(response.body) as Answer;
    expect(answer.iceServers[0]).toEqual({ urls: ["stun:stun.example.com:3478"] });
    const turn = answer.iceServers[1]!;
    expect(turn.urls).toEqual(["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"]);
    // TURN REST API: `<expiry>:<user>`, password HMAC-SHA1(secret, username); coturn checks both.
    const [expiry, user] = turn.username!.split(":");
    expect(user).toBe("precall");
    expect(Number(expiry) - before).toBeGreaterThan(PRECALL_TURN_TTL_S - 5);
    expect(Number(expiry) - before).toBeLessThanOrEqual(PRECALL_TURN_TTL_S + 1);
    expect(new Date(answer.expiresAt!).getTime()).toBe(Number(expiry) * 1000);
    expect(turn.credential).toBe(createHmac("sha1", SECRET).update(turn.username!).digest("base64"));
    expect(response.body).not.toContain(SECRET);
  });

  it("refuses other methods", async () => {
    const response = await request(server.webPort, "/ice-servers", { method: "POST", ...from() });
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("GET, HEAD");
    expect(JSON.parse(response.body)).toEqual({ error: "Use GET." });
  });

  it("limits each client address, with a clear error and Retry-After", async () => {
    const client = from();
    for (let i = 0; i < ICE_SERVERS_RATE.burst; i++) expect((await request(server.webPort, "/ice-servers", client)).status).toBe(200);
    const refused = await request(server.webPort, "/ice-servers", client);
    expect(refused.status).toBe(429);
    expect(refused.headers["retry-after"]).toBe("10");
    expect(JSON.parse(refused.body).error).toMatch(/^Too many requests/);
    // Another client is not held back by the first.
    expect((await request(server.webPort, "/ice-servers", from())).status).toBe(200);
  });
});

describe("GET /ice-servers without TURN", () => {
  it("hands out the STUN servers alone, and an empty list when none are configured", async () => {
    const withStun = await startTestServer({ ICE_SERVERS: "stun:a.example.com:3478,stun:b.example.com:3478" });
    const none = await startTestServer({ ICE_SERVERS: "" });
    try {
      expect(JSON.parse((await request(withStun.webPort, "/ice-servers")).body)).toEqual({
        iceServers: [{ urls: ["stun:a.example.com:3478"] }, { urls: ["stun:b.example.com:3478"] }],
      });
      expect(JSON.parse((await request(none.webPort, "/ice-servers")).body)).toEqual({ iceServers: [] });
    } finally {
      await Promise.all([withStun.shutdown(), none.shutdown()]);
    }
  });

  it("keeps a session's shorter TURN_CREDENTIAL_TTL_S", async () => {
    const short = await startTestServer({ TURN_URLS: "turn:turn.example.com:3478", TURN_SECRET: SECRET, TURN_CREDENTIAL_TTL_S: "60" });
    try {
      const before = Math.floor(Date.now() / 1000);
      const answer = JSON.parse((await request(short.webPort, "/ice-servers")).body) as Answer;
      expect(Number(answer.iceServers[0]!.username!.split(":")[0]) - before).toBeLessThanOrEqual(61);
    } finally {
      await short.shutdown();
    }
  });
});
