import { afterEach, describe, expect, it, vi } from "vitest";
import {
  CallStatsMonitor,
  QUALITY_THRESHOLDS,
  gradeQuality,
  sampleStats,
  type StatsEntry,
  type StatsSample,
  type StatsSource,
} from "../src/index.js";

/**
 * A report shaped as Chromium's getStats() gives it for a call with audio and video each way:
 * `t` seconds in, the counters as a stream at the given rates would have them.
 */
interface Rates {
  /** Bytes per second each way, audio and video. */
  videoBytes?: number;
  audioBytes?: number;
  /** Packets per second received (each stream) and the cumulative number lost. */
  packets?: number;
  lostIn?: number;
  /** Cumulative packets the peer reports lost of ours (remote-inbound-rtp). */
  lostOut?: number;
  fps?: number;
  rtt?: number;
  local?: string;
  remote?: string;
  relayProtocol?: string;
  /** Ids of the inbound streams (a renegotiation may bring new SSRCs). */
  inboundIds?: [string, string];
}

function chromiumReport(t: number, r: Rates = {}): Map<string, StatsEntry> {
  const { videoBytes = 100_000, audioBytes = 4_000, packets = 100, lostIn = 0, lostOut = 0, fps = 30, rtt = 0.04 } = r;
  const timestamp = 1_700_000_000_000 + t * 1000;
  const [videoIn, audioIn] = r.inboundIds ?? ["IT01V1", "IT01A1"];
  const entries: StatsEntry[] = [
    { id: "T01", type: "transport", timestamp, selectedCandidatePairId: "CP1" },
    // A pair that was tried and is not the one in use: its RTT must not count.
    { id: "CP0", type: "candidate-pair", timestamp, localCandidateId: "I0", remoteCandidateId: "I1", state: "failed", currentRoundTripTime: 9 },
    { id: "CP1", type: "candidate-pair", timestamp, localCandidateId: "IL", remoteCandidateId: "IR", state: "succeeded", nominated: true, currentRoundTripTime: rtt },
    { id: "IL", type: "local-candidate", timestamp, candidateType: r.local ?? "host", ...(r.relayProtocol ? { relayProtocol: r.relayProtocol } : {}) },
    { id: "IR", type: "remote-candidate", timestamp, candidateType: r.remote ?? "host" },
    { id: "I0", type: "local-candidate", timestamp, candidateType: "relay" },
    { id: "I1", type: "remote-candidate", timestamp, candidateType: "relay" },
    {
      id: videoIn, type: "inbound-rtp", kind: "video", timestamp,
      bytesReceived: videoBytes * t, packetsReceived: packets * t, packetsLost: lostIn, framesDecoded: fps * t,
      framesPerSecond: fps, frameWidth: 1280, frameHeight: 720,
    },
    { id: audioIn, type: "inbound-rtp", kind: "audio", timestamp, bytesReceived: audioBytes * t, packetsReceived: 50 * t, packetsLost: 0 },
    {
      id: "OT01V1", type: "outbound-rtp", kind: "video", timestamp,
      bytesSent: videoBytes * t, packetsSent: packets * t, framesEncoded: (fps / 2) * t, frameWidth: 640, frameHeight: 360,
    },
    { id: "OT01A1", type: "outbound-rtp", kind: "audio", timestamp, bytesSent: audioBytes * t, packetsSent: 50 * t },
    { id: "RIV1", type: "remote-inbound-rtp", kind: "video", timestamp, localId: "OT01V1", packetsLost: lostOut, fractionLost: 0, roundTripTime: 0.05 },
    { id: "RIA1", type: "remote-inbound-rtp", kind: "audio", timestamp, localId: "OT01A1", packetsLost: 0, roundTripTime: 0.05 },
    { id: "D1", type: "data-channel", timestamp },
  ];
  return new Map(entries.map((e) => [e.id ?? "", e]));
}

/** Samples of a connection whose reports come once a second (t = 0, 1, …). */
function samplesOf(reports: Map<string, StatsEntry>[]): StatsSample[] {
  const samples: StatsSample[] = [];
  let counters;
  for (const report of reports) {
    const result = sampleStats(report, counters);
    counters = result.counters;
    if (result.sample) samples.push(result.sample);
  }
  return samples;
}

describe("sampleStats", () => {
  it("needs two reports for rates: the first gives only counters", () => {
    const first = sampleStats(chromiumReport(1), undefined);
    expect(first.sample).toBeUndefined();
    expect(first.counters.at).toBe(1_700_000_001_000);
  });

  it("derives bitrate, RTT, frame rate, resolution and a direct path from a report and the one before", () => {
    const [sample] = samplesOf([chromiumReport(10), chromiumReport(11)]);
    // 104,000 bytes a second each way, audio and video together.
    expect(sample?.bitrateIn).toBe(832_000);
    expect(sample?.bitrateOut).toBe(832_000);
    expect(sample?.videoBitrateIn).toBe(800_000);
    expect(sample?.rttMs).toBe(40); // the selected pair's, not the failed pair's nor RTCP's
    expect(sample?.fpsIn).toBe(30);
    expect(sample?.fpsOut).toBe(15);
    expect(sample?.resolutionIn).toEqual({ width: 1280, height: 720 });
    expect(sample?.resolutionOut).toEqual({ width: 640, height: 360 });
    expect(sample?.lossIn).toBe(0);
    expect(sample?.lossOut).toBe(0);
    expect(sample?.path).toBe("direct");
    expect(sample?.relayProtocol).toBeUndefined();
  });

  it("divides by the time between the reports' timestamps, not by the polling interval", () => {
    const first = sampleStats(chromiumReport(10), undefined);
    const later = chromiumReport(12); // two seconds later: twice the bytes, the same rate
    expect(sampleStats(later, first.counters).sample?.bitrateIn).toBe(832_000);
  });

  it("measures loss over the interval from the packetsLost and packetsReceived deltas, both ways", () => {
    // In the second second 10 video packets went missing (150 audio and video arrived),
    // and the peer reports 25 of our 100 video packets lost.
    const [sample] = samplesOf([chromiumReport(1, { lostIn: 5, lostOut: 0 }), chromiumReport(2, { lostIn: 15, lostOut: 25 })]);
    expect(sample?.packets).toEqual({ received: 150, lostIn: 10, sent: 150, lostOut: 25 });
    expect(sample?.lossIn).toBeCloseTo((100 * 10) / 160);
    expect(sample?.lossOut).toBeCloseTo((100 * 25) / 175);
  });

  it("counts no loss when packetsLost falls (late packets and retransmissions filled the gap)", () => {
    const [sample] = samplesOf([chromiumReport(1, { lostIn: 8 }), chromiumReport(2, { lostIn: 6 })]);
    expect(sample?.lossIn).toBe(0);
  });

  it("uses the receiver report's fractionLost when our packets sent are not in the report", () => {
    const before = chromiumReport(1);
    const now = chromiumReport(2);
    for (const report of [before, now]) {
      report.delete("OT01A1");
      report.delete("RIA1");
      const remote = report.get("RIV1");
      if (remote) remote.localId = "gone";
    }
    (now.get("RIV1") as StatsEntry).fractionLost = 0.04;
    const [sample] = samplesOf([before, now]);
    expect(sample?.lossOut).toBeCloseTo(4);
  });

  it("says relayed when either end of the selected pair is a TURN relay, with how TURN is reached", () => {
    const [ours] = samplesOf([chromiumReport(1), chromiumReport(2, { local: "relay", remote: "srflx", relayProtocol: "tcp" })]);
    expect(ours?.path).toBe("relayed");
    expect(ours?.relayProtocol).toBe("tcp");
    const [theirs] = samplesOf([chromiumReport(1), chromiumReport(2, { local: "srflx", remote: "relay" })]);
    expect(theirs?.path).toBe("relayed");
    const [direct] = samplesOf([chromiumReport(1), chromiumReport(2, { local: "srflx", remote: "prflx" })]);
    expect(direct?.path).toBe("direct");
  });

  it("finds the pair in use without a transport entry (Firefox marks it `selected`)", () => {
    const report = (t: number) => {
      const r = chromiumReport(t, { local: "relay", rtt: 0.12 });
      r.delete("T01");
      (r.get("CP1") as StatsEntry).selected = true;
      return r;
    };
    const [sample] = samplesOf([report(1), report(2)]);
    expect(sample?.path).toBe("relayed");
    expect(sample?.rttMs).toBeCloseTo(120);
  });

  it("falls back to RTCP's round-trip time when the pair has none", () => {
    const report = (t: number) => {
      const r = chromiumReport(t);
      delete (r.get("CP1") as StatsEntry).currentRoundTripTime;
      return r;
    };
    expect(samplesOf([report(1), report(2)])[0]?.rttMs).toBeCloseTo(50);
  });

  it("does not count a new stream's whole history as one second (a renegotiation brought new SSRCs)", () => {
    const [sample] = samplesOf([chromiumReport(100), chromiumReport(101, { inboundIds: ["IT02V1", "IT02A1"] })]);
    expect(sample?.bitrateIn).toBe(0);
    expect(sample?.fpsIn).toBeUndefined();
    expect(sample?.bitrateOut).toBe(832_000);
  });

  it("has no rates and no path before any media or connection", () => {
    const empty = new Map<string, StatsEntry>([["P", { id: "P", type: "peer-connection", timestamp: 1000 }]]);
    const later = new Map<string, StatsEntry>([["P", { id: "P", type: "peer-connection", timestamp: 2000 }]]);
    const [sample] = samplesOf([empty, later]);
    expect(sample).toMatchObject({ bitrateIn: 0, bitrateOut: 0, rttMs: undefined, lossIn: undefined, lossOut: undefined, path: undefined });
    expect(sample?.fpsIn).toBeUndefined();
    expect(sample?.resolutionIn).toBeUndefined();
  });
});

describe("gradeQuality", () => {
  /** `n` one-second samples alike but for what `overrides` sets. */
  function steady(n: number, overrides: Partial<StatsSample> = {}): StatsSample[] {
    return Array.from({ length: n }, (_, i) => ({
      at: i * 1000,
      bitrateIn: 1_000_000,
      bitrateOut: 1_000_000,
      videoBitrateIn: 900_000,
      rttMs: 40,
      lossIn: 0,
      lossOut: 0,
      packets: { received: 100, lostIn: 0, sent: 100, lostOut: 0 },
      fpsIn: 30,
      fpsOut: 30,
      resolutionIn: undefined,
      resolutionOut: undefined,
      path: "direct" as const,
      relayProtocol: undefined,
      ...overrides,
    }));
  }

  it("is undefined before the first sample, good on a healthy connection", () => {
    expect(gradeQuality([])).toBeUndefined();
    expect(gradeQuality(steady(5))).toEqual({ grade: "good", limitedBy: [] });
  });

  it("grades the round-trip time at 300 ms (fair) and 600 ms (poor)", () => {
    expect(gradeQuality(steady(5, { rttMs: 299 }))?.grade).toBe("good");
    expect(gradeQuality(steady(5, { rttMs: QUALITY_THRESHOLDS.rttMs.fair }))).toEqual({ grade: "fair", limitedBy: ["rtt"] });
    expect(gradeQuality(steady(5, { rttMs: 650 }))).toEqual({ grade: "poor", limitedBy: ["rtt"] });
  });

  it("grades packet loss over the whole window, in the worse direction, at 3 % and 10 %", () => {
    expect(gradeQuality(steady(5, { packets: { received: 98, lostIn: 2, sent: 100, lostOut: 0 } }))?.grade).toBe("good");
    expect(gradeQuality(steady(5, { packets: { received: 100, lostIn: 0, sent: 95, lostOut: 5 } }))).toEqual({ grade: "fair", limitedBy: ["loss"] });
    expect(gradeQuality(steady(5, { packets: { received: 85, lostIn: 15, sent: 100, lostOut: 0 } }))).toEqual({ grade: "poor", limitedBy: ["loss"] });
    // One bad second among five: 20 of 500 packets lost, 4 %.
    const samples = steady(5);
    samples[4] = { ...samples[4]!, packets: { received: 80, lostIn: 20, sent: 100, lostOut: 0 } };
    expect(gradeQuality(samples)?.grade).toBe("fair");
  });

  it("looks only at the last five seconds", () => {
    const samples = [...steady(10, { rttMs: 900 }), ...steady(5)];
    expect(gradeQuality(samples)?.grade).toBe("good");
  });

  it("grades the inbound video bitrate only while the peer's camera is on", () => {
    const starved = steady(5, { videoBitrateIn: 60_000 });
    expect(gradeQuality(starved, { videoExpected: true })).toEqual({ grade: "fair", limitedBy: ["bitrate"] });
    expect(gradeQuality(steady(5, { videoBitrateIn: 10_000 }), { videoExpected: true })?.grade).toBe("poor");
    expect(gradeQuality(steady(5, { videoBitrateIn: 2_000 }), { videoExpected: false })?.grade).toBe("good");
  });

  it("names every figure that sets the grade, and is poor while the connection is down", () => {
    expect(gradeQuality(steady(5, { rttMs: 700, packets: { received: 80, lostIn: 20, sent: 100, lostOut: 0 }, videoBitrateIn: 50_000 }))).toEqual({
      grade: "poor",
      limitedBy: ["rtt", "loss"],
    });
    expect(gradeQuality(steady(5), { videoExpected: true, connectionState: "disconnected" })).toEqual({ grade: "poor", limitedBy: ["connection"] });
  });
});

describe("CallStatsMonitor", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A connection whose getStats() gives the next report at each call. */
  function connection(reports: (t: number) => Map<string, StatsEntry>) {
    let t = 0;
    const pc = {
      connectionState: "connected" as RTCPeerConnectionState,
      getStats: vi.fn(async () => reports(t++) as unknown as RTCStatsReport),
    };
    return pc;
  }

  it("samples each connection once a second while there are any, and keeps the last minute", async () => {
    vi.useFakeTimers();
    const bob = connection((t) => chromiumReport(t));
    const carol = connection((t) => chromiumReport(t, { local: "relay" }));
    let sources: StatsSource[] = [];
    const monitor = new CallStatsMonitor(() => sources);
    const seen: number[] = [];
    monitor.subscribe(() => seen.push(monitor.getSnapshot().size));

    monitor.sync();
    await vi.advanceTimersByTimeAsync(3000);
    expect(bob.getStats).not.toHaveBeenCalled(); // nothing to sample, no timer

    sources = [
      { userId: "bob", pc: bob, videoExpected: true },
      { userId: "carol", pc: carol, videoExpected: true },
    ];
    monitor.sync();
    await vi.advanceTimersByTimeAsync(1000);
    expect(monitor.of("bob")?.samples).toHaveLength(0); // a baseline only
    await vi.advanceTimersByTimeAsync(2000);
    expect(monitor.of("bob")?.samples).toHaveLength(2);
    expect(monitor.of("bob")?.latest?.path).toBe("direct");
    expect(monitor.of("carol")?.latest?.path).toBe("relayed");
    expect(monitor.of("bob")?.quality?.grade).toBe("good");
    expect(seen).toEqual([2, 2, 2]); // one update a round, not one per connection

    await vi.advanceTimersByTimeAsync(90_000);
    const samples = monitor.of("bob")?.samples ?? [];
    expect(samples).toHaveLength(60);
    expect((samples.at(-1)?.at ?? 0) - (samples[0]?.at ?? 0)).toBe(59_000);

    // carol leaves: her statistics go, bob's stay.
    sources = sources.filter((s) => s.userId !== "carol");
    monitor.sync();
    expect([...monitor.getSnapshot().keys()]).toEqual(["bob"]);

    // The call ends: sampling stops.
    sources = [];
    monitor.sync();
    expect(monitor.getSnapshot().size).toBe(0);
    const calls = bob.getStats.mock.calls.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(bob.getStats.mock.calls.length).toBe(calls);
    monitor.dispose();
  });

  it("starts over when the connection with someone is a new one", async () => {
    vi.useFakeTimers();
    const first = connection((t) => chromiumReport(t));
    const second = connection((t) => chromiumReport(t));
    let sources: StatsSource[] = [{ userId: "bob", pc: first, videoExpected: true }];
    const monitor = new CallStatsMonitor(() => sources);
    monitor.sync();
    await vi.advanceTimersByTimeAsync(4000);
    expect(monitor.of("bob")?.samples).toHaveLength(3);
    sources = [{ userId: "bob", pc: second, videoExpected: true }];
    monitor.sync();
    expect(monitor.of("bob")).toBeUndefined();
    await vi.advanceTimersByTimeAsync(2000);
    expect(monitor.of("bob")?.samples).toHaveLength(1);
    monitor.dispose();
  });

  it("skips a connection whose getStats() fails (closed meanwhile) and goes on with the others", async () => {
    const broken = { connectionState: "closed" as RTCPeerConnectionState, getStats: () => Promise.reject(new Error("closed")) };
    const bob = connection((t) => chromiumReport(t));
    const monitor = new CallStatsMonitor(() => [
      { userId: "gone", pc: broken, videoExpected: true },
      { userId: "bob", pc: bob, videoExpected: true },
    ]);
    await monitor.poll();
    await monitor.poll();
    expect(monitor.of("gone")).toBeUndefined();
    expect(monitor.of("bob")?.samples).toHaveLength(1);
    monitor.dispose();
  });
});

describe("sampleStats on reports recorded from Chromium", () => {
  it("reads what a real call's getStats() gives: bitrate, RTT, loss, frame rate and size each way, a direct path", async () => {
    const { readFile } = await import("node:fs/promises");
    const recorded = JSON.parse(await readFile(new URL("./fixtures/chromium-stats.json", import.meta.url), "utf8")) as {
      reports: StatsEntry[][];
    };
    const [first, second] = recorded.reports.map((entries) => new Map(entries.map((e) => [e.id ?? "", e])));
    const { counters } = sampleStats(first!, undefined);
    const { sample } = sampleStats(second!, counters);
    expect(sample?.bitrateIn).toBeGreaterThan(50_000);
    expect(sample?.bitrateOut).toBeGreaterThan(50_000);
    expect(sample?.videoBitrateIn).toBeGreaterThan(0);
    expect(sample?.videoBitrateIn).toBeLessThan(sample?.bitrateIn ?? 0);
    expect(sample?.rttMs).toBeGreaterThanOrEqual(0);
    expect(sample?.lossIn).toBe(0);
    expect(sample?.lossOut).toBe(0);
    expect(sample?.fpsIn).toBeGreaterThan(5);
    expect(sample?.fpsOut).toBeGreaterThan(5);
    expect(sample?.resolutionIn?.width).toBeGreaterThan(0);
    expect(sample?.resolutionOut?.height).toBeGreaterThan(0);
    expect(sample?.path).toBe("direct");
    expect(gradeQuality([sample!])?.grade).toBe("good");
  });
});
