import { describe, expect, it } from "vitest";
import { checkNetwork, describeNetwork, splitIceServers } from "../src/index.js";

// The verdicts, input checks and the probes' bookkeeping. Real gathering against a real coturn
// is in e2e/precall.spec.ts (Chromium); Node has no RTCPeerConnection of its own.

const STUN = { urls: "stun:127.0.0.1:3478" };
const TURN = { urls: ["turn:127.0.0.1:3478?transport=udp"], username: "1700000000:precall", credential: "c" };

/**
 * What the probes use of RTCPeerConnection: it emits, after the local description is set, the
 * candidates (an SDP line) or errors scripted for its servers; null ends gathering.
 */
function scriptedPeerConnection(script: (servers: RTCIceServer[]) => ({ candidate: string } | { error: number } | null)[]) {
  const made: { servers: RTCIceServer[]; closed: boolean }[] = [];
  class ScriptedPeerConnection extends EventTarget {
    private readonly record: { servers: RTCIceServer[]; closed: boolean };
    constructor(configuration?: RTCConfiguration) {
      super();
      this.record = { servers: configuration?.iceServers ?? [], closed: false };
      made.push(this.record);
    }
    createDataChannel() {}
    async createOffer() {
      return { type: "offer", sdp: "" };
    }
    async setLocalDescription() {
      for (const step of script(this.record.servers)) {
        await Promise.resolve();
        if (this.record.closed) return;
        if (step && "error" in step) this.dispatchEvent(Object.assign(new Event("icecandidateerror"), { errorCode: step.error, errorText: "" }));
        else this.dispatchEvent(Object.assign(new Event("icecandidate"), { candidate: step && { candidate: step.candidate, type: null } }));
      }
    }
    close() {
      this.record.closed = true;
    }
  }
  return { RTCPeerConnection: ScriptedPeerConnection as unknown as typeof RTCPeerConnection, made };
}

const host = { candidate: "candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host" };
const srflx = { candidate: "candidate:2 1 udp 1686052607 198.51.100.7 50000 typ srflx raddr 0.0.0.0 rport 0" };
const relay = { candidate: "candidate:3 1 udp 41885439 203.0.113.9 60000 typ relay raddr 198.51.100.7 rport 50000" };
const isTurn = (servers: RTCIceServer[]) => String(servers[0]?.urls).startsWith("turn");

describe("checkNetwork", () => {
  it("is good when STUN answers and TURN allocates, each probed on a connection of its own, all closed", async () => {
    const { RTCPeerConnection, made } = scriptedPeerConnection((servers) => (isTurn(servers) ? [host, srflx, relay] : [host, srflx]));
    const result = await checkNetwork({ RTCPeerConnection, iceServers: [STUN, TURN] });
    expect(result).toMatchObject({ verdict: "good", stun: { state: "ok" }, turn: { state: "ok" }, directWorks: true });
    expect(result.summary).toBe("Network: good — direct connections work, and the relay (TURN) works too");
    expect(made.map((pc) => pc.servers)).toEqual([[{ urls: [STUN.urls] }], [TURN]]);
    expect(made.every((pc) => pc.closed)).toBe(true);
  });

  it("names refused TURN credentials (401)", async () => {
    const { RTCPeerConnection } = scriptedPeerConnection((servers) => (isTurn(servers) ? [host, srflx, { error: 401 }, null] : [host, srflx]));
    const result = await checkNetwork({ RTCPeerConnection, iceServers: [STUN, TURN] });
    expect(result.verdict).toBe("relay-failed");
    expect(result.summary).toBe(
      "Network: direct connections work, but the relay (TURN) does not (the relay refused the credentials) — calls from strict networks may fail",
    );
  });

  it("takes silence as a failure once the timeout passes", async () => {
    const { RTCPeerConnection, made } = scriptedPeerConnection((servers) => (isTurn(servers) ? [host, relay] : [host]));
    const result = await checkNetwork({ RTCPeerConnection, iceServers: [STUN, TURN], timeoutMs: 50 });
    expect(result).toMatchObject({ verdict: "relay-only", stun: { state: "failed", reason: "no answer from the STUN server" } });
    expect(result.summary).toBe("Network: direct connections blocked, calls will go through the relay (TURN)");
    expect(made.every((pc) => pc.closed)).toBe(true);
  });

  it("counts a STUN answer that repeats a host address (no NAT: Chromium leaves that candidate out), but not a STUN error", async () => {
    const noNat = scriptedPeerConnection(() => [host, null]);
    expect((await checkNetwork({ RTCPeerConnection: noNat.RTCPeerConnection, iceServers: [STUN] })).stun).toEqual({ state: "ok" });
    const unreachable = scriptedPeerConnection(() => [host, { error: 701 }, null]);
    expect((await checkNetwork({ RTCPeerConnection: unreachable.RTCPeerConnection, iceServers: [STUN] })).stun).toEqual({
      state: "failed",
      reason: "no answer from the STUN server",
    });
  });

  it("counts a TURN server's STUN answer as a direct path when no STUN server is configured", async () => {
    const { RTCPeerConnection, made } = scriptedPeerConnection(() => [host, srflx, relay]);
    const result = await checkNetwork({ RTCPeerConnection, iceServers: [TURN] });
    expect(result).toMatchObject({ verdict: "good", stun: { state: "not-configured" }, directWorks: true });
    expect(made).toHaveLength(1);
  });

  it("needs no connection when nothing is configured", async () => {
    const { RTCPeerConnection, made } = scriptedPeerConnection(() => []);
    const result = await checkNetwork({ RTCPeerConnection, iceServers: [] });
    expect(result.verdict).toBe("unconfigured");
    expect(result.summary).toMatch(/^Network: no STUN or TURN server is set up/);
    expect(made).toHaveLength(0);
  });

  it("rejects when aborted, closing its connections", async () => {
    const { RTCPeerConnection, made } = scriptedPeerConnection(() => [host]);
    const controller = new AbortController();
    const checking = checkNetwork({ RTCPeerConnection, iceServers: [STUN], signal: controller.signal });
    controller.abort(new Error("closed"));
    await expect(checking).rejects.toThrow("closed");
    expect(made.every((pc) => pc.closed)).toBe(true);
  });

  it("refuses bad input with a clear error", async () => {
    const { RTCPeerConnection } = scriptedPeerConnection(() => []);
    await expect(checkNetwork({ RTCPeerConnection, iceServers: [STUN], timeoutMs: 0 })).rejects.toThrow("timeoutMs must be a positive number, got 0");
    expect(() => splitIceServers([{ urls: "http://example.com" }])).toThrow('iceServers[0]: "http://example.com" is not a stun:, stuns:, turn: or turns: URL');
    expect(() => splitIceServers([STUN, { urls: "turn:example.com" }])).toThrow("iceServers[1]: a TURN server needs a username and a credential");
    expect(() => splitIceServers([{ urls: [] }])).toThrow("iceServers[0].urls must be a URL or a non-empty array of URLs");
    expect(() => splitIceServers({} as RTCIceServer[])).toThrow("iceServers must be an array");
  });
});

describe("describeNetwork", () => {
  const ok = { state: "ok" } as const;
  const none = { state: "not-configured" } as const;
  const failed = (reason: string) => ({ state: "failed", reason }) as const;

  it("says in plain words what each outcome means for calls", () => {
    expect(describeNetwork(ok, none).summary).toBe("Network: good — direct connections work");
    expect(describeNetwork(failed("x"), none).summary).toBe("Network: cannot reach the STUN server — calls may fail on other networks");
    expect(describeNetwork(failed("x"), failed("could not reach the relay"))).toMatchObject({
      verdict: "unreachable",
      summary: "Network: cannot reach the STUN or TURN server (could not reach the relay) — calls may fail on other networks",
    });
    expect(describeNetwork(none, ok, false).summary).toBe("Network: good — the relay (TURN) works, so calls can connect from any network");
    for (const stun of [ok, none, failed("x")]) {
      for (const turn of [ok, none, failed("y")]) expect(describeNetwork(stun, turn).summary).toMatch(/^Network: /);
    }
  });
});
