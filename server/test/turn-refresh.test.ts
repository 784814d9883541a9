import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { createHmac } from "node:crypto";
import { IceTransportPolicy, UserRequestSchema, type SignalingMessage } from "@peertobeer/protocol";
import { TokenSigner } from "../src/auth/tokens.js";
import { MemoryBackend } from "../src/bus/memory.js";
import type { Hub } from "../src/hub/index.js";
import { createSignaling, type Signaling } from "../src/rpc/signaling.js";
import { CollectingSink, HUB_OPTIONS, isEvent } from "./helpers.js";

const TURN_SECRET = "refresh-test-secret";
const TTL_S = 10;

let backend: MemoryBackend;
let hub: Hub;
let signaling: Signaling;

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-12-06T03:00:00Z") });
  backend = new MemoryBackend(HUB_OPTIONS);
  hub = backend.hub;
  signaling = createSignaling({
    backend,
    tokens: new TokenSigner("refresh-test-token-secret", 60_000),
    config: {
      iceServers: [{ urls: ["stun:127.0.0.1:3478"] }],
      turn: { urls: ["turn:127.0.0.1:3478?transport=tcp"], secret: TURN_SECRET, ttlSeconds: TTL_S },
      iceTransportPolicy: IceTransportPolicy.RELAY,
      connectTimeoutMs: 15_000,
      maxCallParticipants: 6,
      heartbeatMs: 60_000,
      maxSessions: 8,
      rateLimitPerSec: 10,
      rateLimitBurst: 10,
    },
    isDraining: () => false,
  });
});

afterEach(() => {
  hub.stop();
  vi.useRealTimers();
});

/** The TURN server's entry of a list of ICE servers: when its credentials expire, and whether they check out. */
function turnEntry(servers: { urls: string[]; username: string; credential: string }[]) {
  const turn = servers.find((s) => s.urls[0]?.startsWith("turn:"));
  const [expiry, user] = (turn?.username ?? "").split(":");
  return {
    expiresAtS: Number(expiry),
    user,
    valid: turn?.credential === createHmac("sha1", TURN_SECRET).update(turn?.username ?? "").digest("base64"),
  };
}

function updates(sink: CollectingSink): SignalingMessage[] {
  return sink.take().filter((m) => isEvent(m, "iceServersUpdate"));
}

describe("TURN credentials that outlive their TTL", () => {
  it("are replaced on the stream halfway through their life, as a control message, before they expire", async () => {
    const sink = new CollectingSink();
    const session = await signaling.joinCall(create(UserRequestSchema, { userId: "alice" }), sink);
    const joined = sink.take()[0];
    if (!joined || !isEvent(joined, "joined")) throw new Error("no joined");
    const first = turnEntry(joined.event.value.iceServers);
    expect(first).toMatchObject({ user: "alice", valid: true });

    vi.advanceTimersByTime((TTL_S * 1000) / 2 - 1);
    expect(updates(sink)).toEqual([]);
    vi.advanceTimersByTime(1);
    const [update] = updates(sink);
    if (!update || !isEvent(update, "iceServersUpdate")) throw new Error("no ice_servers_update");
    // Not numbered: it carries the session's latest seq and is never replayed.
    expect(update.seq).toBe(hub.sessionById(session.id)?.seq);
    expect(update.event.value.iceServers.map((s) => s.urls)).toEqual([["stun:127.0.0.1:3478"], ["turn:127.0.0.1:3478?transport=tcp"]]);
    const second = turnEntry(update.event.value.iceServers);
    expect(second).toMatchObject({ user: "alice", valid: true });
    expect(second.expiresAtS).toBeGreaterThan(first.expiresAtS);
    // The old credentials are still good when the new ones arrive.
    expect(first.expiresAtS * 1000).toBeGreaterThan(Date.now());

    // And again before the new ones run out, for as long as the session lives.
    vi.advanceTimersByTime((TTL_S * 1000) / 2);
    expect(updates(sink)).toHaveLength(1);
  });

  it("stop with the session: no timer outlives it", async () => {
    const sink = new CollectingSink();
    const session = await signaling.joinCall(create(UserRequestSchema, { userId: "alice" }), sink);
    const live = hub.sessionById(session.id);
    if (!live) throw new Error("no session");
    // The hub's one heartbeat timer, and the session's refresh.
    expect(vi.getTimerCount()).toBe(2);
    hub.close(live);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("restart from a resume, whose joined carries fresh ones", async () => {
    const sink = new CollectingSink();
    const session = await signaling.joinCall(create(UserRequestSchema, { userId: "alice" }), sink);
    const joined = sink.take()[0];
    if (!joined || !isEvent(joined, "joined")) throw new Error("no joined");
    signaling.streamEnded(session, sink);
    vi.advanceTimersByTime((TTL_S * 1000) / 2 - 1000);
    const again = new CollectingSink();
    await signaling.joinCall(
      create(UserRequestSchema, { userId: "alice", resumeToken: joined.event.value.sessionToken, lastSeq: joined.seq }),
      again,
    );
    const resumed = again.take()[0];
    if (!resumed || !isEvent(resumed, "joined")) throw new Error("no joined on resume");
    expect(resumed.event.value.resumed).toBe(true);
    // The refresh due a second later is now due half a TTL after the resume.
    vi.advanceTimersByTime(1000);
    expect(updates(again)).toEqual([]);
    vi.advanceTimersByTime((TTL_S * 1000) / 2 - 1000);
    expect(updates(again)).toHaveLength(1);
  });
});
