/**
 * Call statistics: each connection's getStats() once a second, turned into rates (bitrate,
 * packet loss, frame rate over the last interval), the round-trip time, the resolution and
 * whether the path is direct or relayed through TURN; the last minute of them is kept, and a
 * quality grade is derived from the last few seconds (QUALITY_THRESHOLDS).
 *
 * The derivations (sampleStats, gradeQuality) are pure functions of RTCStatsReport-like maps;
 * CallStatsMonitor polls the connections a Phone hands it and is a store of its own (subscribe,
 * getSnapshot), apart from the Phone's snapshot: a UI re-renders on it only where it shows it.
 */

/** The fields of RTCStats entries this module reads (Chromium's and Firefox's names). */
export interface StatsEntry {
  id?: string;
  type: string;
  timestamp?: number;
  kind?: string;
  bytesReceived?: number;
  bytesSent?: number;
  packetsReceived?: number;
  packetsSent?: number;
  packetsLost?: number;
  fractionLost?: number;
  framesDecoded?: number;
  framesEncoded?: number;
  framesPerSecond?: number;
  frameWidth?: number;
  frameHeight?: number;
  roundTripTime?: number;
  currentRoundTripTime?: number;
  localId?: string;
  selectedCandidatePairId?: string;
  localCandidateId?: string;
  remoteCandidateId?: string;
  candidateType?: string;
  relayProtocol?: string;
  nominated?: boolean;
  selected?: boolean;
  state?: string;
}

/** What getStats() resolves to, as far as this module is concerned (a Map will do in tests). */
export interface StatsReportLike {
  // RTCStatsReport (whose entries are typed `any`) fits, and so does a Map of StatsEntry.
  forEach(callback: (entry: StatsEntry, id: string) => void): void;
  get(id: string): unknown;
}

export interface Resolution {
  width: number;
  height: number;
}

/** The numbers of one interval (about a second) of one connection. */
export interface StatsSample {
  /** When, in ms (the report's timestamp). */
  at: number;
  /** Audio and video RTP payload received and sent, bits per second. */
  bitrateIn: number;
  bitrateOut: number;
  /** The video part of bitrateIn (the grade looks at it). */
  videoBitrateIn: number;
  /** Round-trip time of the selected candidate pair (else RTCP's), ms. */
  rttMs: number | undefined;
  /** Packets lost on the way to us, % of those expected in the interval; undefined when none were. */
  lossIn: number | undefined;
  /** Packets lost on the way to the peer, %, from the peer's receiver reports. */
  lossOut: number | undefined;
  /** The counts behind lossIn and lossOut, to sum over a longer window. */
  packets: { received: number; lostIn: number; sent: number; lostOut: number };
  /** Video frames decoded and encoded per second. */
  fpsIn: number | undefined;
  fpsOut: number | undefined;
  resolutionIn: Resolution | undefined;
  resolutionOut: Resolution | undefined;
  /** `relayed` when either end of the selected candidate pair is a TURN relay. */
  path: "direct" | "relayed" | undefined;
  /** How we reach the TURN server when we relay (udp, tcp or tls). */
  relayProtocol: string | undefined;
}

/** Cumulative counters of the previous report, by stats id. */
export interface StatsCounters {
  at: number;
  streams: ReadonlyMap<string, StreamCounters>;
}

interface StreamCounters {
  bytes: number;
  packets: number;
  lost: number;
  frames: number;
}

/** Rises only: a counter that went down belongs to a new stream (or was reset). */
function delta(now: number, before: number | undefined): number | undefined {
  if (before === undefined || now < before) return undefined;
  return now - before;
}

function entriesOf(report: StatsReportLike): StatsEntry[] {
  const entries: StatsEntry[] = [];
  report.forEach((entry: StatsEntry, id: string) => entries.push({ ...entry, id }));
  return entries;
}

/** The candidate pair in use: the transport's selected one, else Firefox's `selected`, else a nominated one that works. */
function selectedPair(entries: StatsEntry[], report: StatsReportLike): StatsEntry | undefined {
  for (const entry of entries) {
    if (entry.type !== "transport" || !entry.selectedCandidatePairId) continue;
    const pair = report.get(entry.selectedCandidatePairId) as StatsEntry | undefined;
    if (pair) return pair;
  }
  const pairs = entries.filter((e) => e.type === "candidate-pair");
  return pairs.find((p) => p.selected) ?? pairs.find((p) => p.nominated && p.state === "succeeded");
}

const resolutionOf = (entry: StatsEntry | undefined): Resolution | undefined =>
  entry?.frameWidth && entry.frameHeight ? { width: entry.frameWidth, height: entry.frameHeight } : undefined;

const percent = (lost: number, of: number): number | undefined => (of > 0 ? Math.min(100, (100 * lost) / of) : undefined);

/**
 * One interval's numbers from a report and the counters of the one before. The first report of
 * a connection gives only counters (rates need two). A stream new since the last report (a
 * renegotiation, a new SSRC) counts from its second report on.
 */
export function sampleStats(
  report: StatsReportLike,
  previous: StatsCounters | undefined,
  now: number = Date.now(),
): { sample: StatsSample | undefined; counters: StatsCounters } {
  const entries = entriesOf(report);
  const rtp = entries.filter((e) => e.type === "inbound-rtp" || e.type === "outbound-rtp");
  const at = rtp.find((e) => e.timestamp !== undefined)?.timestamp ?? entries.find((e) => e.timestamp !== undefined)?.timestamp ?? now;
  const streams = new Map<string, StreamCounters>();
  for (const e of entries) {
    if (e.type === "inbound-rtp") {
      streams.set(e.id ?? "", { bytes: e.bytesReceived ?? 0, packets: e.packetsReceived ?? 0, lost: e.packetsLost ?? 0, frames: e.framesDecoded ?? 0 });
    } else if (e.type === "outbound-rtp") {
      streams.set(e.id ?? "", { bytes: e.bytesSent ?? 0, packets: e.packetsSent ?? 0, lost: 0, frames: e.framesEncoded ?? 0 });
    } else if (e.type === "remote-inbound-rtp") {
      streams.set(e.id ?? "", { bytes: 0, packets: 0, lost: e.packetsLost ?? 0, frames: 0 });
    }
  }
  const counters: StatsCounters = { at, streams };
  const seconds = previous ? (at - previous.at) / 1000 : 0;
  if (!previous || seconds <= 0) return { sample: undefined, counters };

  const before = (id: string | undefined) => previous.streams.get(id ?? "");
  let bytesIn = 0;
  let videoBytesIn = 0;
  let bytesOut = 0;
  const packets = { received: 0, lostIn: 0, sent: 0, lostOut: 0 };
  // The video stream that carried the most, each way: its frame rate and size are the call's.
  let videoIn: { entry: StatsEntry; bytes: number; frames: number | undefined } | undefined;
  let videoOut: { entry: StatsEntry; bytes: number; frames: number | undefined } | undefined;
  const fractionsLost: { fraction: number; weight: number }[] = [];
  let rtcpRtt: number[] = [];

  for (const e of entries) {
    const was = before(e.id);
    if (e.type === "inbound-rtp") {
      const bytes = delta(e.bytesReceived ?? 0, was?.bytes);
      if (bytes === undefined) continue;
      bytesIn += bytes;
      if (e.kind === "video") videoBytesIn += bytes;
      const received = delta(e.packetsReceived ?? 0, was?.packets) ?? 0;
      // packetsLost may fall (a late packet or a retransmission filled a gap): none lost then.
      const lost = Math.max(0, (e.packetsLost ?? 0) - (was?.lost ?? 0));
      packets.received += received;
      packets.lostIn += lost;
      if (e.kind === "video" && (!videoIn || bytes > videoIn.bytes)) videoIn = { entry: e, bytes, frames: delta(e.framesDecoded ?? 0, was?.frames) };
    } else if (e.type === "outbound-rtp") {
      const bytes = delta(e.bytesSent ?? 0, was?.bytes);
      if (bytes === undefined) continue;
      bytesOut += bytes;
      if (e.kind === "video" && (!videoOut || bytes > videoOut.bytes)) videoOut = { entry: e, bytes, frames: delta(e.framesEncoded ?? 0, was?.frames) };
    } else if (e.type === "remote-inbound-rtp") {
      if (e.roundTripTime !== undefined) rtcpRtt.push(e.roundTripTime);
      const local = entries.find((o) => o.id === e.localId);
      const sent = local ? delta(local.packetsSent ?? 0, before(local.id)?.packets) : undefined;
      const lost = was ? Math.max(0, (e.packetsLost ?? 0) - was.lost) : undefined;
      if (sent !== undefined && lost !== undefined) {
        packets.sent += sent;
        packets.lostOut += lost;
      } else if (e.fractionLost !== undefined) {
        fractionsLost.push({ fraction: e.fractionLost, weight: sent ?? 1 });
      }
    }
  }

  const pair = selectedPair(entries, report);
  const local = pair ? (report.get(pair.localCandidateId ?? "") as StatsEntry | undefined) : undefined;
  const remote = pair ? (report.get(pair.remoteCandidateId ?? "") as StatsEntry | undefined) : undefined;
  const relayed = local?.candidateType === "relay" || remote?.candidateType === "relay";
  const pairRtt = pair?.currentRoundTripTime;
  rtcpRtt = rtcpRtt.filter((rtt) => rtt > 0);
  const rttSeconds = pairRtt ?? (rtcpRtt.length > 0 ? rtcpRtt.reduce((a, b) => a + b, 0) / rtcpRtt.length : undefined);

  let lossOut = percent(packets.lostOut, packets.sent + packets.lostOut);
  if (lossOut === undefined && fractionsLost.length > 0) {
    const weight = fractionsLost.reduce((sum, f) => sum + f.weight, 0);
    lossOut = weight > 0 ? (100 * fractionsLost.reduce((sum, f) => sum + f.fraction * f.weight, 0)) / weight : undefined;
  }
  const fps = (video: typeof videoIn) =>
    video === undefined ? undefined
    : video.frames !== undefined && (video.entry.framesDecoded !== undefined || video.entry.framesEncoded !== undefined) ? video.frames / seconds
    : video.entry.framesPerSecond;

  const sample: StatsSample = {
    at,
    bitrateIn: (8 * bytesIn) / seconds,
    bitrateOut: (8 * bytesOut) / seconds,
    videoBitrateIn: (8 * videoBytesIn) / seconds,
    rttMs: rttSeconds === undefined ? undefined : rttSeconds * 1000,
    lossIn: percent(packets.lostIn, packets.received + packets.lostIn),
    lossOut,
    packets,
    fpsIn: fps(videoIn),
    fpsOut: fps(videoOut),
    resolutionIn: resolutionOf(videoIn?.entry),
    resolutionOut: resolutionOf(videoOut?.entry),
    path: pair && local ? (relayed ? "relayed" : "direct") : undefined,
    relayProtocol: relayed ? local?.relayProtocol : undefined,
  };
  return { sample, counters };
}

export type QualityGrade = "good" | "fair" | "poor";

/** What limits the grade: round-trip time, packet loss, inbound video bitrate, or no connection. */
export type QualityLimit = "rtt" | "loss" | "bitrate" | "connection";

export interface QualityAssessment {
  grade: QualityGrade;
  /** Why it is not good (empty when it is). */
  limitedBy: QualityLimit[];
}

/**
 * Where the grade changes. A call is `fair` at or past any `fair` figure and `poor` at or past
 * any `poor` one, over the last `windowSamples` seconds (one bad second does not flip it):
 * - round-trip time: ITU-T G.114 holds one-way delay under 150 ms as good and past 400 ms as
 *   unacceptable for conversation; a network RTT of 300 ms (about 150 ms each way, before the
 *   jitter buffer and codecs add theirs) is where people start talking over each other, 600 ms
 *   where a conversation breaks down;
 * - packet loss (the worse direction): Opus and video with NACK/FEC hide 1–2 %; from 3 % video
 *   freezes and audio clips now and then, from 10 % all the time;
 * - inbound video bitrate, only while the peer says its camera is on (a camera that is off
 *   sends next to nothing): under 100 kbit/s the picture is blocky or stutters even at 180p,
 *   under 30 kbit/s video has as good as stopped;
 * - a connection that is `disconnected` or `failed` (ICE is trying to recover) is poor.
 */
export const QUALITY_THRESHOLDS = {
  windowSamples: 5,
  rttMs: { fair: 300, poor: 600 },
  lossPercent: { fair: 3, poor: 10 },
  videoBitrateIn: { fair: 100_000, poor: 30_000 },
} as const;

const mean = (values: number[]): number | undefined => (values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : undefined);

/**
 * The grade of a connection from its latest samples (oldest first); undefined before the first
 * sample.
 */
export function gradeQuality(
  samples: readonly StatsSample[],
  context: { videoExpected: boolean; connectionState?: RTCPeerConnectionState } = { videoExpected: true },
  thresholds: typeof QUALITY_THRESHOLDS = QUALITY_THRESHOLDS,
): QualityAssessment | undefined {
  const state = context.connectionState;
  if (state === "disconnected" || state === "failed") return { grade: "poor", limitedBy: ["connection"] };
  const recent = samples.slice(-thresholds.windowSamples);
  if (recent.length === 0) return undefined;
  const sum = (pick: (s: StatsSample) => number) => recent.reduce((total, s) => total + pick(s), 0);
  const rtt = mean(recent.flatMap((s) => (s.rttMs === undefined ? [] : [s.rttMs])));
  const lostIn = sum((s) => s.packets.lostIn);
  const lossIn = percent(lostIn, lostIn + sum((s) => s.packets.received));
  const lostOut = sum((s) => s.packets.lostOut);
  const lossOutCounted = percent(lostOut, lostOut + sum((s) => s.packets.sent));
  const lossOut = lossOutCounted ?? mean(recent.flatMap((s) => (s.lossOut === undefined ? [] : [s.lossOut])));
  const loss = Math.max(lossIn ?? 0, lossOut ?? 0);
  const videoBitrate = mean(recent.map((s) => s.videoBitrateIn)) ?? 0;

  const levels: [QualityLimit, QualityGrade][] = [];
  const rate = (limit: QualityLimit, value: number | undefined, fair: number, poor: number) => {
    if (value === undefined) return;
    if (value >= poor) levels.push([limit, "poor"]);
    else if (value >= fair) levels.push([limit, "fair"]);
  };
  rate("rtt", rtt, thresholds.rttMs.fair, thresholds.rttMs.poor);
  rate("loss", loss, thresholds.lossPercent.fair, thresholds.lossPercent.poor);
  if (context.videoExpected) {
    if (videoBitrate < thresholds.videoBitrateIn.poor) levels.push(["bitrate", "poor"]);
    else if (videoBitrate < thresholds.videoBitrateIn.fair) levels.push(["bitrate", "fair"]);
  }
  const grade: QualityGrade = levels.some(([, g]) => g === "poor") ? "poor" : levels.length > 0 ? "fair" : "good";
  return { grade, limitedBy: levels.filter(([, g]) => g === grade).map(([limit]) => limit) };
}

/** One connection the monitor samples: whom it reaches, and whether their camera should be sending. */
export interface StatsSource {
  userId: string;
  pc: Pick<RTCPeerConnection, "getStats" | "connectionState">;
  /** The peer says its camera is on (the bitrate grade applies only then). */
  videoExpected: boolean;
}

/** One participant's statistics: the last minute of samples (oldest first) and the grade now. */
export interface ParticipantStats {
  userId: string;
  samples: readonly StatsSample[];
  latest: StatsSample | undefined;
  quality: QualityAssessment | undefined;
}

/** Every connected participant's statistics, by user ID; a new object whenever anything changed. */
export type CallStatsSnapshot = ReadonlyMap<string, ParticipantStats>;

export interface CallStatsOptions {
  /** How often each connection's getStats() is read (1 s). */
  intervalMs?: number;
  /** How much history is kept (60 s). */
  windowMs?: number;
}

interface Tracked {
  pc: StatsSource["pc"];
  counters: StatsCounters | undefined;
  stats: ParticipantStats;
}

/**
 * Samples the connections `sources()` names once every `intervalMs` while there are any, keeps
 * the last `windowMs` of each, and tells subscribers after every round (at most once a second).
 * The owner calls sync() when the set of connections may have changed.
 */
export class CallStatsMonitor {
  private readonly listeners = new Set<() => void>();
  private readonly tracked = new Map<string, Tracked>();
  private snapshot: CallStatsSnapshot = new Map();
  private timer: ReturnType<typeof setInterval> | undefined;
  private polling = false;
  private readonly intervalMs: number;
  private readonly windowMs: number;

  constructor(
    private readonly sources: () => StatsSource[],
    options: CallStatsOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.windowMs = options.windowMs ?? 60_000;
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): CallStatsSnapshot => this.snapshot;

  /** One participant's statistics, if they are connected and sampled. */
  of(userId: string): ParticipantStats | undefined {
    return this.snapshot.get(userId);
  }

  /** Starts or stops sampling as connections come and go; forgets those that went. */
  sync(): void {
    const sources = this.sources();
    const ids = new Set(sources.map((s) => s.userId));
    let changed = false;
    for (const [userId, tracked] of this.tracked) {
      const source = sources.find((s) => s.userId === userId);
      // Gone, or a new connection with the same person: its history starts over.
      if (!ids.has(userId) || source?.pc !== tracked.pc) {
        this.tracked.delete(userId);
        changed = true;
      }
    }
    if (changed) this.publish();
    if (sources.length > 0 && this.timer === undefined) this.timer = setInterval(() => void this.poll(), this.intervalMs);
    if (sources.length === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Reads every connection once now (the timer does this every interval). */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const sources = this.sources();
      const reports = await Promise.all(
        sources.map(async (source) => {
          try {
            return { source, report: await source.pc.getStats() };
          } catch {
            return { source, report: undefined }; // closed meanwhile
          }
        }),
      );
      const current = new Set(this.sources().map((s) => s.pc));
      for (const { source, report } of reports) {
        if (!report || !current.has(source.pc)) continue;
        this.record(source, report);
      }
      this.publish();
    } finally {
      this.polling = false;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.tracked.clear();
    this.listeners.clear();
    this.snapshot = new Map();
  }

  private record(source: StatsSource, report: StatsReportLike): void {
    let tracked = this.tracked.get(source.userId);
    if (!tracked || tracked.pc !== source.pc) {
      tracked = { pc: source.pc, counters: undefined, stats: { userId: source.userId, samples: [], latest: undefined, quality: undefined } };
      this.tracked.set(source.userId, tracked);
    }
    const { sample, counters } = sampleStats(report, tracked.counters);
    tracked.counters = counters;
    const samples = sample ? [...tracked.stats.samples.filter((s) => s.at > sample.at - this.windowMs), sample] : tracked.stats.samples;
    const context = { videoExpected: source.videoExpected, connectionState: source.pc.connectionState };
    tracked.stats = { userId: source.userId, samples, latest: samples.at(-1), quality: gradeQuality(samples, context) };
  }

  private publish(): void {
    this.snapshot = new Map([...this.tracked].map(([userId, tracked]) => [userId, tracked.stats]));
    for (const listener of this.listeners) listener();
  }
}
