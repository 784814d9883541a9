import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../../server/src/config.js";
import { startServer, type RunningServer } from "../../../server/src/server.js";
import { SignalingClient, type SignalingEvents } from "../src/index.js";
import { TcpProxy } from "../../../test/support/tcp-proxy.js";

function client(port: number, watchPresence = true): SignalingClient {
  return new SignalingClient({
    transport: createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }),
    watchPresence,
  });
}

/** Resolves when `predicate` holds, re-checking on every event of `client`. */
function when(sdk: SignalingClient, event: keyof SignalingEvents, predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (predicate()) return resolve();
    const off = sdk.on(event, () => {
      if (!predicate()) return;
      off();
      resolve();
    });
  });
}

describe("resume through a cut connection", () => {
  let server: RunningServer;
  let proxy: TcpProxy;
  const clients: SignalingClient[] = [];

  beforeEach(async () => {
    const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", ICE_SERVERS: "" });
    server = await startServer(config, pino({ level: "silent" }));
    proxy = new TcpProxy(server.webPort);
    await proxy.listen();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.leave();
    await proxy.close();
    await server.shutdown();
  });

  it.each([
    { mode: "refused", cut: () => proxy.cutAndBlock(), restore: () => proxy.unblock() },
    { mode: "held", cut: () => proxy.cutAndHold(), restore: () => proxy.release() },
  ])("replays every event sent during the gap, in order, once (reconnects $mode meanwhile)", async ({ cut, restore }) => {
    const bob = client(proxy.port);
    const alice = client(server.webPort);
    const carol = client(server.webPort);
    clients.push(bob, alice, carol);
    const seen: { seq: bigint; kind: string }[] = [];
    bob.on("sequenced", (event) => seen.push(event));
    const offers: string[] = [];
    bob.on("offer", (event) => offers.push(event.sdp));
    const candidates: string[] = [];
    bob.on("candidates", (event) => candidates.push(...event.candidates.map((c) => c.candidate ?? "")));
    const presence: string[] = [];
    bob.on("presence", (event) => presence.push(`${event.userId}:${event.online}`));

    const bobJoined = await bob.join("bob");
    await alice.join("alice");
    await when(bob, "presence", () => presence.includes("alice:true"));

    cut();
    const bobSession = () => server.hub!.snapshot().sessions.find((s) => s.userId === "bob");
    await expect.poll(() => bobSession()?.attached).toBe(false);
    expect(bobSession()?.id).toBe(bobJoined.sessionId);

    // Everything below reaches bob's session while his stream is down.
    const callId = await alice.sendOffer("bob", "v=0 offer-during-gap");
    for (const n of [1, 2, 3]) {
      await alice.sendIceCandidates(callId, [{ candidate: `candidate:${n} 1 udp 1 127.0.0.1 ${9000 + n} typ host`, sdpMid: "0" }], false);
    }
    await carol.join("carol");
    expect(offers).toEqual([]);

    restore();
    await when(bob, "presence", () => presence.includes("carol:true"));
    expect(bob.state).toBe("online");
    expect(offers).toEqual(["v=0 offer-during-gap"]);
    expect(candidates).toEqual([1, 2, 3].map((n) => `candidate:${n} 1 udp 1 127.0.0.1 ${9000 + n} typ host`));
    // Same session, consecutive sequence numbers: nothing lost, nothing twice.
    expect(bobSession()?.id).toBe(bobJoined.sessionId);
    const seqs = seen.map((e) => Number(e.seq));
    expect(seqs).toEqual(seqs.map((_, i) => (seqs[0] ?? 0) + i));
    expect(seen.map((e) => e.kind).slice(-5)).toEqual(["offer", "iceCandidates", "iceCandidates", "iceCandidates", "presence"]);
  });

  it("joins afresh with the same ID when the server no longer knows the session", async () => {
    const bob = client(proxy.port, false);
    clients.push(bob);
    const first = await bob.join("bob");
    let reset = false;
    bob.on("sessionReset", () => (reset = true));
    proxy.cutAndBlock();
    const session = server.hub!.sessionById(first.sessionId);
    expect(session).toBeDefined();
    if (session) server.hub!.close(session); // as if the grace period ran out
    proxy.unblock();
    await when(bob, "joined", () => reset);
    expect(bob.state).toBe("online");
    expect(server.hub!.snapshot().sessions.map((s) => s.userId)).toEqual(["bob"]);
  });
});
