/**
 * Turns measurements into figures (ours, PeerJS, ratio, target), prints them as Markdown tables
 * and rewrites the generated section of docs/BENCHMARKS.md.
 */
import { readFile, writeFile } from "node:fs/promises";
import type { AcceptTiming, AcceptToFrameResult, B4Series, Summary } from "../browser/accept-to-frame.js";
import { RING_MS } from "../browser/common.js";
import { meshVideoLimit } from "../../packages/client/src/first-frames.js";
import type { GroupResult, GroupSystemResult, Spread, SteadyWindow } from "../browser/group.js";
import type { DrainResult } from "../faults/drain.js";
import type { ResumeResult } from "../faults/resume.js";
import type { SetupRun, SystemId } from "../load/types.js";
import type { ClusterResult, ClusterRushResult } from "./cluster.js";
import { otherShare, type LevelResult, type RushResult, type SystemResult } from "./phases.js";
import type { SoakResult } from "./soak.js";

export type Transport = "gRPC" | "gRPC-Web";

export interface Figure {
  table: "headline" | "scaling";
  id: string;
  name: string;
  transport: Transport;
  unit: string;
  ours: number;
  peerjs: number;
  /** ours / PeerJS. */
  ratio: number;
  /** Human-readable target, or "" for a figure shown for context. */
  target: string;
  met: boolean | null;
  /** Decimal places when printed. */
  digits: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
}

export interface ReportContext {
  machine: Machine;
  command: string;
  date: string;
  durationS: number;
  /** The browser B4 ran in, when it ran. */
  browser?: string;
  fixture: { browser: string; offerBytes: number; answerBytes: number; callerCandidates: number; calleeCandidates: number };
}

const TRANSPORTS: { transport: Transport; key: "ours-grpc" | "ours-web" }[] = [
  { transport: "gRPC", key: "ours-grpc" },
  { transport: "gRPC-Web", key: "ours-web" },
];

/** B3 limits, KiB per idle session. */
const HEAP_LIMIT_KIB: Record<Transport, number> = { gRPC: 8, "gRPC-Web": 12 };
const RPC_LIMIT = 6;
const BYTES_LIMIT = 20_000;
/**
 * "Flat", no super-linear term: the value at the largest session count is at most this many
 * times the smallest value at any fewer sessions. (Values that fall as sessions grow, as with a
 * JIT warming up over the levels, are not a super-linear term; the spread row shows them.)
 */
const FLAT_GROWTH = 1.5;
/** B4: Accept → first frame presented at most this many times the like-for-like floor's. */
const FLOOR_LIMIT = 1.25;

type Systems = Record<"ours-grpc" | "ours-web" | "peerjs", SystemResult>;

/** The load generators' CPU shares of a B2 run, added up (100 % = one core). */
function loadShare(rush: RushResult): number {
  return rush.shares.filter((share) => share.role === "load").reduce((t, share) => t + share.share, 0);
}

function perSetup(run: SetupRun) {
  const n = run.completed;
  return {
    callerSent: run.caller.sent / n,
    calleeSent: run.callee.sent / n,
    callerReceived: run.caller.received / n,
    calleeReceived: run.callee.received / n,
    callerBytes: (run.caller.bytesSent + run.caller.bytesReceived) / n,
    calleeBytes: (run.callee.bytesSent + run.callee.bytesReceived) / n,
  };
}

export function buildFigures(systems: Systems): Figure[] {
  const peer = systems.peerjs;
  const figures: Figure[] = [];
  const add = (
    f: Omit<Figure, "ratio" | "met" | "target" | "digits"> & {
      target?: string;
      met?: (ours: number, ratio: number) => boolean;
      digits?: number;
    },
  ) => {
    const ratio = f.ours / f.peerjs;
    figures.push({
      ...f,
      ratio,
      target: f.target ?? "",
      met: f.met ? f.met(f.ours, ratio) : null,
      digits: f.digits ?? 0,
    });
  };

  for (const { transport, key } of TRANSPORTS) {
    const ours = systems[key];
    add({
      table: "headline", id: "B1", name: "Server CPU per call setup", transport, unit: "µs",
      ours: ours.cpu.cpuPerSetupUs, peerjs: peer.cpu.cpuPerSetupUs,
      target: "≤ 1.0× PeerJS", met: (_, r) => r <= 1.0,
    });
    const floor = ours.relayFloor;
    if (floor) {
      add({
        table: "headline", id: "B1", name: "— floor: our transports around a relay doing nothing else", transport, unit: "µs",
        ours: floor.cpuPerSetupUs, peerjs: peer.cpu.cpuPerSetupUs,
      });
    }
  }
  for (const { transport, key } of TRANSPORTS) {
    const ours = systems[key];
    add({
      table: "headline", id: "B2", name: "Call setups per second (one node)", transport, unit: "setups/s",
      ours: ours.rush.setupsPerSecond, peerjs: peer.rush.setupsPerSecond,
      target: "≥ 1.0× PeerJS", met: (_, r) => r >= 1.0,
    });
    add({
      table: "headline", id: "B2", name: "Setup latency p50", transport, unit: "ms",
      ours: ours.rush.run.latency.p50Ms, peerjs: peer.rush.run.latency.p50Ms, digits: 1,
    });
    add({
      table: "headline", id: "B2", name: "Setup latency p99", transport, unit: "ms",
      ours: ours.rush.run.latency.p99Ms, peerjs: peer.rush.run.latency.p99Ms, digits: 1,
    });
    add({
      table: "headline", id: "B2", name: "Server CPU share during B2 (100 % = one core)", transport, unit: "%",
      ours: ours.rush.serverCpuShare * 100, peerjs: peer.rush.serverCpuShare * 100,
    });
    add({
      table: "headline", id: "B2", name: `— load generators' CPU share (${ours.rush.loads} processes)`, transport, unit: "%",
      ours: loadShare(ours.rush) * 100, peerjs: loadShare(peer.rush) * 100,
    });
  }
  for (const { transport, key } of TRANSPORTS) {
    const ours = topLevel(systems[key]);
    const theirs = topLevel(peer);
    add({
      table: "headline", id: "B3", name: `Heap per idle session @ ${ours.sessions.toLocaleString("en-US")}`, transport,
      unit: "KiB", ours: ours.heapPerSessionBytes / 1024, peerjs: theirs.heapPerSessionBytes / 1024, digits: 2,
      target: `≤ ${HEAP_LIMIT_KIB[transport]} KiB`, met: (value) => value <= HEAP_LIMIT_KIB[transport],
    });
    const after = systems[key].afterCalls;
    const theirsAfter = peer.afterCalls;
    const sessions = after.sessions.toLocaleString("en-US");
    add({
      table: "headline", id: "B3", name: `— sessions that have called (${sessions}), joined before any call`, transport,
      unit: "KiB", ours: after.joinedHeapPerSessionBytes / 1024, peerjs: theirsAfter.joinedHeapPerSessionBytes / 1024, digits: 2,
    });
    add({
      table: "headline", id: "B3", name: "— just after one call each (its events kept for a resume)", transport,
      unit: "KiB", ours: after.afterCallHeapPerSessionBytes / 1024, peerjs: theirsAfter.afterCallHeapPerSessionBytes / 1024, digits: 2,
    });
    add({
      table: "headline", id: "B3", name: `— idle again, once no event is kept for a resume (ours: ${(after.laterAfterMs / 1000).toFixed(1)} s after the calls)`, transport,
      unit: "KiB", ours: after.laterHeapPerSessionBytes / 1024, peerjs: theirsAfter.laterHeapPerSessionBytes / 1024, digits: 2,
      target: `≤ ${HEAP_LIMIT_KIB[transport]} KiB`, met: (value) => value <= HEAP_LIMIT_KIB[transport],
    });
  }
  for (const { transport, key } of TRANSPORTS) {
    const ours = perSetup(systems[key].cpu.run);
    const theirs = perSetup(peer.cpu.run);
    add({
      table: "headline", id: "B5", name: "Caller: RPCs (ours) / messages (PeerJS) sent", transport, unit: "",
      ours: ours.callerSent, peerjs: theirs.callerSent, digits: 1,
      target: `≤ ${RPC_LIMIT}`, met: (value) => value <= RPC_LIMIT,
    });
    add({
      table: "headline", id: "B5", name: "Callee: RPCs (ours) / messages (PeerJS) sent", transport, unit: "",
      ours: ours.calleeSent, peerjs: theirs.calleeSent, digits: 1,
      target: `≤ ${RPC_LIMIT}`, met: (value) => value <= RPC_LIMIT,
    });
    add({
      table: "headline", id: "B5", name: "Caller: messages received", transport, unit: "",
      ours: ours.callerReceived, peerjs: theirs.callerReceived, digits: 1,
    });
    add({
      table: "headline", id: "B5", name: "Callee: messages received", transport, unit: "",
      ours: ours.calleeReceived, peerjs: theirs.calleeReceived, digits: 1,
    });
    add({
      table: "headline", id: "B5", name: "Caller: bytes on the wire (both ways)", transport, unit: "B",
      ours: ours.callerBytes, peerjs: theirs.callerBytes,
    });
    add({
      table: "headline", id: "B5", name: "Callee: bytes on the wire (both ways)", transport, unit: "B",
      ours: ours.calleeBytes, peerjs: theirs.calleeBytes,
    });
    add({
      table: "headline", id: "B5", name: "Total bytes on the wire per setup", transport, unit: "B",
      ours: ours.callerBytes + ours.calleeBytes, peerjs: theirs.callerBytes + theirs.calleeBytes,
      target: "≤ 20 KB", met: (value) => value <= BYTES_LIMIT,
    });
  }
  figures.push(...scalingFigures(systems));
  return figures;
}

const B4_TIMINGS: { timing: AcceptTiming; name: string }[] = [
  { timing: "atOnce", name: "at once" },
  { timing: "ringing", name: `after ${RING_MS.min / 1000}–${RING_MS.max / 1000} s of ringing` },
];

const B4_VIEWS: { view: keyof Pick<B4Series, "summary" | "caller" | "callee">; name: string }[] = [
  { view: "summary", name: "both see each other (the later side)" },
  { view: "caller", name: "the caller sees the callee" },
  { view: "callee", name: "the callee sees the caller" },
];

const B4_STATS: { name: string; key: keyof Summary; judged: boolean }[] = [
  { name: "p50", key: "p50Ms", judged: true },
  { name: "p95", key: "p95Ms", judged: true },
  { name: "max", key: "maxMs", judged: false },
];

function b4Rows(b4: AcceptToFrameResult) {
  const { ours, peerjs, floor } = b4.systems;
  return B4_TIMINGS.flatMap(({ timing, name: accept }) =>
    B4_VIEWS.flatMap(({ view, name: who }) =>
      B4_STATS.filter(({ key }) => view === "summary" || key !== "maxMs").map(({ name: stat, key, judged }) => {
        const o = ours.series[timing][view][key];
        const f = floor.series[timing][view][key];
        return { accept, who, stat, ours: o, peerjs: peerjs.series[timing][view][key], floor: f, met: judged ? o <= FLOOR_LIMIT * f : null };
      }),
    ),
  );
}

/** B4 over gRPC-Web (what the browser speaks): ours, PeerJS and the like-for-like floor, per Accept timing and side. */
export function renderB4(b4: AcceptToFrameResult): string {
  const ms = (value: number) => `${format(value, 0)} ms`;
  const lines = [
    row(["Accept", "Who sees whom", "", "Ours", "PeerJS", "Floor", "Ours ÷ floor", "Ours ÷ PeerJS", "Goal", "Met?"]),
    row(["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---", "---"]),
  ];
  for (const r of b4Rows(b4)) {
    lines.push(
      row([
        r.accept,
        r.who,
        r.stat,
        ms(r.ours),
        ms(r.peerjs),
        ms(r.floor),
        `${format(r.ours / r.floor, 2)}×`,
        `${format(r.ours / r.peerjs, 2)}×`,
        r.met === null ? "—" : `≤ ${FLOOR_LIMIT}× floor`,
        r.met === null ? "" : r.met ? "yes" : "**no**",
      ]),
    );
  }
  const phases = B4_TIMINGS.map(({ timing, name }) => {
    const of = (system: "ours" | "peerjs" | "floor") => {
      const p = b4.systems[system].series[timing].phaseMedians;
      return `answer applied ${format(p.callerAnswerSet, 0)}, connected ${format(p.calleeConnected, 0)} / ${format(p.callerConnected, 0)}, frames ${format(p.calleeFrame, 0)} / ${format(p.callerFrame, 0)}`;
    };
    return `Accept ${name}: ours ${of("ours")}; PeerJS ${of("peerjs")}; floor ${of("floor")}.`;
  });
  return [
    lines.join("\n"),
    "",
    `Where the time goes (median ms after Accept; connected and frames given as callee / caller): ${phases.join(" ")}`,
  ].join("\n");
}

function topLevel(result: SystemResult): LevelResult {
  const level = result.levels.at(-1);
  if (!level) throw new Error(`${result.system}: no session levels measured`);
  return level;
}

interface ScalingMetric {
  name: string;
  unit: string;
  digits: number;
  /**
   * Whether it must stay flat: the value at the largest count at most FLAT_GROWTH× the cheapest
   * value at a smaller count from `growthFrom` on.
   */
  judged: boolean;
  growthFrom: number;
  /** One value per level, in order. */
  values: (levels: LevelResult[]) => number[];
}

const perLevel = (value: (level: LevelResult) => number) => (levels: LevelResult[]) => levels.map(value);

/**
 * Heap per session joined since the previous count (the first: since the empty server). A
 * super-linear term shows as a dearer step at 10,000 than at 1,000. Unlike the average per
 * session, it does not depend on the one reading before any session: that reading, some
 * 100 KiB noisy between runs, is 1 KiB per session at 100 sessions.
 */
function heapPerAddedSession(levels: LevelResult[]): number[] {
  return levels.map((level, i) => {
    const previous = levels[i - 1];
    const total = (l: LevelResult) => l.heapPerSessionBytes * l.sessions;
    return previous ? (total(level) - total(previous)) / (level.sessions - previous.sessions) / 1024 : level.heapPerSessionBytes / 1024;
  });
}

/**
 * Idle CPU per session is not judged: it is the whole background CPU divided by the sessions,
 * so fixed timers dominate it at small counts. Nor is the average heap per session, for the
 * noise above; the heap added per session is judged from the second count on.
 */
const SCALING_METRICS: ScalingMetric[] = [
  { name: "Heap per idle session", unit: "KiB", digits: 2, judged: false, growthFrom: 0, values: perLevel((l) => l.heapPerSessionBytes / 1024) },
  { name: "Heap per added idle session (since the previous count)", unit: "KiB", digits: 2, judged: true, growthFrom: 1, values: heapPerAddedSession },
  { name: "Server CPU per join", unit: "µs", digits: 0, judged: true, growthFrom: 0, values: perLevel((l) => l.joinCpuPerSessionUs) },
  { name: "Server CPU per call setup (net of idle)", unit: "µs", digits: 0, judged: true, growthFrom: 0, values: perLevel((l) => l.netCpuPerSetupUs) },
  { name: "Idle server CPU per session", unit: "µs/s", digits: 2, judged: false, growthFrom: 0, values: perLevel((l) => l.idleCpuPerSessionUsPerSecond) },
];

function scalingFigures(systems: Systems): Figure[] {
  const figures: Figure[] = [];
  for (const metric of SCALING_METRICS) {
    for (const { transport, key } of TRANSPORTS) {
      const ours = metric.values(systems[key].levels);
      const theirs = metric.values(systems.peerjs.levels);
      systems[key].levels.forEach((level, i) => {
        const o = ours[i];
        const p = theirs[i];
        if (o === undefined || p === undefined) return;
        figures.push({
          table: "scaling", id: "scale", name: `${metric.name} @ ${level.sessions.toLocaleString("en-US")}`, transport,
          unit: metric.unit, ours: o, peerjs: p, ratio: o / p, target: "", met: null, digits: metric.digits,
        });
      });
      if (!metric.judged) continue;
      const spread = (values: number[]) => Math.max(...values) / Math.min(...values);
      figures.push({
        table: "scaling", id: "scale", name: `${metric.name}: spread (max ÷ min over counts)`, transport,
        unit: "×", ours: spread(ours), peerjs: spread(theirs), ratio: spread(ours) / spread(theirs), target: "", met: null, digits: 2,
      });
      // With only two counts (the smoke sizes) the first one is all there is to compare with.
      const from = Math.min(metric.growthFrom, ours.length - 2);
      const growth = (values: number[]) => (values.at(-1) ?? Number.NaN) / Math.min(...values.slice(from, -1));
      const o = growth(ours);
      const p = growth(theirs);
      figures.push({
        table: "scaling", id: "scale", name: `${metric.name}: growth (largest count ÷ cheapest fewer)`, transport,
        unit: "×", ours: o, peerjs: p, ratio: o / p, target: `flat (≤ ${FLAT_GROWTH}×)`, met: o <= FLAT_GROWTH, digits: 2,
      });
    }
  }
  return figures;
}

function format(value: number, digits: number): string {
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function row(cells: string[]): string {
  return `| ${cells.join(" | ")} |`;
}

export function renderTable(figures: Figure[], table: Figure["table"]): string {
  const lines = [
    row(["", "Figure", "Transport", "Ours", "PeerJS", "Ours ÷ PeerJS", "Target", "Met?"]),
    row(["---", "---", "---", "---:", "---:", "---:", "---", "---"]),
  ];
  for (const f of figures.filter((figure) => figure.table === table)) {
    const unit = f.unit ? ` ${f.unit}` : "";
    lines.push(
      row([
        f.id,
        f.name,
        f.transport,
        `${format(f.ours, f.digits)}${unit}`,
        `${format(f.peerjs, f.digits)}${unit}`,
        `${format(f.ratio, 2)}×`,
        f.target || "—",
        f.met === null ? "" : f.met ? "yes" : "**no**",
      ]),
    );
  }
  return lines.join("\n");
}

/** Issue #14's goals for cluster mode. */
const CROSS_NODE_P50_LIMIT_MS = 2;
const TWO_NODE_SCALING = 1.8;

function percent(share: number): string {
  return `${format(share * 100, 0)} %`;
}

/** "node 1 34 % + node 2 46 %, Redis 13 %, loads 40 % + 39 %" */
function sharesCell(rush: RushResult): string {
  const of = (role: string) => rush.shares.filter((share) => share.role === role);
  const servers = of("server").map((share) => percent(share.share)).join(" + ");
  const redis = of("redis").map((share) => percent(share.share));
  const loads = of("load").map((share) => percent(share.share)).join(" + ");
  return [
    `server${of("server").length > 1 ? "s" : ""} ${servers}`,
    ...(redis.length ? [`Redis ${redis.join("")}`] : []),
    `loads ${loads}`,
    `other processes ${percent(otherShare(rush.shares))}`,
  ].join(", ");
}

/** Setups per second of server CPU: what one node does with each core-second it spends. */
function perServerCpuSecond(rush: RushResult): number {
  return rush.run.completed / (rush.serverCpuUs / 1e6);
}

function perServerAndRedisCpuSecond(rush: RushResult): number {
  const redis = rush.shares.filter((share) => share.role === "redis").reduce((t, share) => t + share.cpuUs, 0);
  return rush.run.completed / ((rush.serverCpuUs + redis) / 1e6);
}

/**
 * Issue #14's cluster figures, beside the same run's one-node (in-memory) figures and PeerJS's:
 * B8's relay latency, B1 summed over the nodes and Redis, B2 with two nodes against one.
 */
export function renderCluster(clusters: ClusterResult[], systems: Systems): string {
  const yes = (met: boolean) => (met ? "yes" : "**no**");
  const ms = (value: number | undefined) => `${format(value ?? Number.NaN, 2)} ms`;
  const lines = [
    "| | Figure | Transport | Value | Beside it | Goal | Met? |",
    "| --- | --- | --- | ---: | --- | --- | --- |",
  ];
  const transport = (system: string) => (system === "ours-grpc" ? "gRPC" : "gRPC-Web");
  for (const c of clusters) {
    const t = transport(c.system);
    const memory = systems[c.system as "ours-grpc" | "ours-web"].relay?.relay;
    const same = c.relaySameNode.relay;
    const cross = c.relayCrossNode.relay;
    const added = (cross?.p50Ms ?? Number.NaN) - (same?.p50Ms ?? Number.NaN);
    const added95 = (cross?.p95Ms ?? Number.NaN) - (same?.p95Ms ?? Number.NaN);
    lines.push(
      `| B8 | Relay latency added by crossing nodes, p50 (${cross?.count ?? 0} relayed events in each setting) | ${t} | ${ms(added)} | across nodes ${ms(cross?.p50Ms)}; one node of the cluster ${ms(same?.p50Ms)}; one node, no Redis ${ms(memory?.p50Ms)} | ≤ ${CROSS_NODE_P50_LIMIT_MS} ms | ${yes(added <= CROSS_NODE_P50_LIMIT_MS)} |`,
      `| B8 | Relay latency added by crossing nodes, p95 | ${t} | ${ms(added95)} | across nodes ${ms(cross?.p95Ms)}; one node of the cluster ${ms(same?.p95Ms)}; one node, no Redis ${ms(memory?.p95Ms)} | — | |`,
    );
  }
  for (const c of clusters) {
    const t = transport(c.system);
    const one = systems[c.system as "ours-grpc" | "ours-web"].cpu.cpuPerSetupUs;
    const peer = systems.peerjs.cpu.cpuPerSetupUs;
    const n = c.cpu.run.completed;
    const parts = [...c.cpu.nodeCpuUs.map((u, i) => `node ${i + 1} ${format(u / n, 0)}`), `Redis ${format(c.cpu.redisCpuUs / n, 0)}`].join(" + ");
    lines.push(
      `| B1 | CPU per call setup, two nodes + Redis, every call across nodes | ${t} | ${format(c.cpu.cpuPerSetupUs, 0)} µs | ${parts} µs; one node, no Redis ${format(one, 0)} µs (${format(c.cpu.cpuPerSetupUs / one, 2)}×); PeerJS ${format(peer, 0)} µs (${format(c.cpu.cpuPerSetupUs / peer, 2)}×) | — | |`,
    );
  }
  for (const c of clusters) {
    const t = transport(c.system);
    const memory = systems[c.system as "ours-grpc" | "ours-web"].rush;
    const peer = systems.peerjs.rush;
    const ratio = c.rushTwoNodes.setupsPerSecond / c.rushOneNode.setupsPerSecond;
    const rate = (rush: RushResult) => `${format(rush.setupsPerSecond, 0)} setups/s`;
    lines.push(
      `| B2 | Call setups per second, two nodes ÷ one node (cluster, Redis behind both) | ${t} | ${format(ratio, 2)}× | two nodes ${rate(c.rushTwoNodes)} (${sharesCell(c.rushTwoNodes)}); one node ${rate(c.rushOneNode)} (${sharesCell(c.rushOneNode)}) | ≥ ${TWO_NODE_SCALING}× | ${yes(ratio >= TWO_NODE_SCALING)} |`,
      `| B2 | — one node without Redis; PeerJS (same run) | ${t} | ${rate(memory)} | ${sharesCell(memory)}; PeerJS ${rate(peer)} (${sharesCell(peer)}) | — | |`,
      `| B2 | Setups per second of node CPU: two nodes / one node of the cluster / one node without Redis | ${t} | ${format(perServerCpuSecond(c.rushTwoNodes), 0)} / ${format(perServerCpuSecond(c.rushOneNode), 0)} / ${format(perServerCpuSecond(memory), 0)} | counting Redis's CPU too: ${format(perServerAndRedisCpuSecond(c.rushTwoNodes), 0)} / ${format(perServerAndRedisCpuSecond(c.rushOneNode), 0)}; PeerJS ${format(perServerCpuSecond(peer), 0)} | — | |`,
      `| B2 | Setup latency p50 / p99, two nodes; one node of the cluster | ${t} | ${format(c.rushTwoNodes.run.latency.p50Ms, 1)} / ${format(c.rushTwoNodes.run.latency.p99Ms, 1)} ms | ${format(c.rushOneNode.run.latency.p50Ms, 1)} / ${format(c.rushOneNode.run.latency.p99Ms, 1)} ms | — | |`,
    );
  }
  return lines.join("\n");
}

/** "server alone on core 0, the rest on 1" (bench/lib/pin.ts), or that nothing was pinned. */
function pinCell(rush: RushResult): string {
  const pin = rush.pinned;
  return pin ? `server${rush.shares.filter((share) => share.role === "server").length > 1 ? "s" : ""} on core ${pin.server}, the rest on ${pin.server === pin.others ? "it too" : pin.others}` : "not pinned";
}

/**
 * B2 alone (`npm run bench -- --b2`): each system's setups per second with every process's CPU
 * share beside it, then the cluster's one node and two nodes.
 */
export function renderB2(rushes: Record<SystemId, RushResult>, clusters: ClusterRushResult[]): string {
  const names: Record<SystemId, string> = { "ours-grpc": "ours, gRPC", "ours-web": "ours, gRPC-Web", peerjs: "PeerJS" };
  const rate = (rush: RushResult) => `${format(rush.setupsPerSecond, 0)}`;
  const latency = (rush: RushResult) => `${format(rush.run.latency.p50Ms, 1)} / ${format(rush.run.latency.p99Ms, 1)} ms`;
  const lines = [
    "| B2 run | Setups/s | p50 / p99 | CPU shares (100 % = one core) | Pinning |",
    "| --- | ---: | --- | --- | --- |",
  ];
  for (const [system, rush] of Object.entries(rushes) as [SystemId, RushResult][]) {
    lines.push(`| ${names[system]}, one node | ${rate(rush)} | ${latency(rush)} | ${sharesCell(rush)} | ${pinCell(rush)} |`);
  }
  for (const c of clusters) {
    lines.push(
      `| ${names[c.system]}, cluster, one node + Redis | ${rate(c.rushOneNode)} | ${latency(c.rushOneNode)} | ${sharesCell(c.rushOneNode)} | ${pinCell(c.rushOneNode)} |`,
      `| ${names[c.system]}, cluster, two nodes + Redis (${format(c.rushTwoNodes.setupsPerSecond / c.rushOneNode.setupsPerSecond, 2)}× one) | ${rate(c.rushTwoNodes)} | ${latency(c.rushTwoNodes)} | ${sharesCell(c.rushTwoNodes)} | ${pinCell(c.rushTwoNodes)} |`,
    );
  }
  return lines.join("\n");
}

export interface Faults {
  resume: ResumeResult;
  drain: DrainResult;
}

/** Issue #4's figures, ours alone: PeerJS has neither resume with replay nor a drain. */
function renderFaults({ resume, drain }: Faults): string {
  const ms = (value: number) => `${format(value, 0)} ms`;
  const yes = (met: boolean) => (met ? "yes" : "**no**");
  return [
    "| Figure | Value | Goal | Met? |",
    "| --- | ---: | --- | --- |",
    `| Resume after a cut, p50 (${resume.users} users cut at once × ${resume.rounds}, ${resume.eventsPerGap} events in each gap) | ${ms(resume.resume.p50Ms)} | — | |`,
    `| Resume after a cut, p95 | ${ms(resume.resume.p95Ms)} | ≤ 500 ms | ${yes(resume.resume.p95Ms <= 500)} |`,
    `| Events lost / duplicated / out of order over the resumes | ${resume.lost} / ${resume.duplicated} / ${resume.outOfOrder} | 0 lost | ${yes(resume.lost + resume.duplicated + resume.outOfOrder === 0)} |`,
    `| Drain with ${drain.pairs} calls up: SIGTERM → exit (code ${drain.exitCode ?? "none"}) | ${ms(drain.drainMs)} | ≤ 5 s | ${yes(drain.drainMs <= 5_000 && drain.exitCode === 0)} |`,
    `| RPC attempts failed during the drain (of ${drain.rpcsDuringDrain} sent) | ${drain.failedAttempts} | 0 | ${yes(drain.failedAttempts === 0)} |`,
    `| Back online once a replacement is up, p95 (the clients' reconnect schedule) | ${ms(drain.reconnect.p95Ms)} | — | |`,
  ].join("\n");
}

export function renderReport(figures: Figure[], context: ReportContext, faults?: Faults, cluster?: string, b4?: AcceptToFrameResult): string {
  const { fixture } = context;
  return [
    ...machineLines(context),
    ...(context.browser ? [`- **Browser (B4):** ${context.browser}, headless, fake camera + microphone`] : []),
    `- **Fixture:** ${fixture.browser}: offer ${fixture.offerBytes} B, answer ${fixture.answerBytes} B, ` +
      `${fixture.callerCandidates} caller and ${fixture.calleeCandidates} callee candidates`,
    "",
    renderTable(figures, "headline"),
    ...(b4
      ? [
          "",
          `B4, Accept → first remote frame presented (Chromium, ${b4.calls} calls per Accept timing and system, after ${b4.warmup} warm-up; the floor: two contexts, no server, video starting small as the SDK's):`,
          "",
          renderB4(b4),
        ]
      : []),
    "",
    "Cost per session and per call as idle sessions grow:",
    "",
    renderTable(figures, "scaling"),
    ...(cluster ? ["", "Cluster mode (ours alone: two nodes and one redis-server; the one-node and PeerJS figures beside them are from this run):", "", cluster] : []),
    ...(faults ? ["", "Faults (ours alone; PeerJS has no resume or drain to compare):", "", renderFaults(faults)] : []),
  ].join("\n");
}

/** The generated sections of docs/BENCHMARKS.md: `npm run bench`'s, and the soak's. */
export type Section = "bench" | "soak" | "group";

/** Replaces what lies between the `<!-- section:start -->` and `:end` markers of `path` with `body`. */
export async function updateDoc(path: string, body: string, section: Section = "bench"): Promise<void> {
  const startMarker = `<!-- ${section}:start -->`;
  const endMarker = `<!-- ${section}:end -->`;
  const text = await readFile(path, "utf8");
  const start = text.indexOf(startMarker);
  const end = text.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`${path} has no ${startMarker} … ${endMarker} section`);
  const updated = `${text.slice(0, start + startMarker.length)}\n${body}\n${text.slice(end)}`;
  await writeFile(path, updated);
}

function machineLines(context: Pick<ReportContext, "machine" | "command" | "date" | "durationS">): string[] {
  const { machine } = context;
  return [
    `- **Date:** ${context.date}`,
    `- **Command:** \`${context.command}\` (${format(context.durationS, 0)} s)`,
    `- **Machine:** ${machine.cpu}, ${machine.cores} cores, ${format(machine.memoryGiB, 1)} GiB RAM, ${machine.os}`,
    `- **Node:** ${machine.node}`,
  ];
}

const MiB = 2 ** 20;

/** The soak's figures (issue #14's goals: no stuck call, no lost or duplicated event). */
export function renderSoak(soak: SoakResult, context: Pick<ReportContext, "machine" | "command" | "date" | "durationS">): string {
  const yes = (met: boolean) => (met ? "yes" : "**no**");
  const last = soak.samples.at(-1) ?? soak.start;
  const slopes = soak.heapSlopeBytesPerMin.map((b) => `${format(b / 1024, 1)} KiB/min`).join(" / ");
  const heaps = (sample: typeof last) => sample.heapUsed.map((h) => format(h / MiB, 1)).join(" / ");
  const stuckCalls = soak.atClose.calls + soak.atClose.inCall + soak.settled.calls + soak.settled.inCall;
  const stuckSessions = soak.settled.sessions + soak.settled.users + soak.settled.histories;
  const { lost, duplicated, unexpected, events } = soak.integrity;
  return [
    ...machineLines(context),
    `- **Load:** ${soak.pairs} caller/callee pairs up at once over ${soak.nodes} nodes and one redis-server, ` +
      `${soak.nodes === 2 ? "callers on one node and callees on the other" : "callers and callees on the one node"} (half over gRPC, half over gRPC-Web); each pair starts a call every ` +
      `${format(soak.paceMs, 0)} ms; every ${format(soak.roundMs / 1000, 0)} s all users leave and new ones join (${soak.rounds} rounds)`,
    "",
    "| Figure | Value | Goal | Met? |",
    "| --- | ---: | --- | --- |",
    `| Calls set up and torn down (failed) | ${format(soak.setups, 0)} (${soak.errors}) | 0 failed | ${yes(soak.errors === 0)} |`,
    `| Setup latency p50 / p95 / p99 | ${format(soak.latency.p50Ms, 1)} / ${format(soak.latency.p95Ms, 1)} / ${format(soak.latency.p99Ms, 1)} ms | — | |`,
    `| Heap after GC per node, start → end | ${heaps(soak.start)} → ${heaps(last)} MiB | — | |`,
    `| Heap slope per node (least squares over the samples after the first round) | ${slopes} | — | |`,
    `| Redis used_memory, start → end of load | ${format(soak.start.redisUsedMemory / MiB, 2)} → ${format(last.redisUsedMemory / MiB, 2)} MiB | — | |`,
    `| Redis keys, start → end of load → all users gone | ${soak.start.redisKeys} → ${last.redisKeys} → ${soak.settled.keys} | — | |`,
    `| Stuck calls: \`c:*\` keys + \`incall\` entries once every user hung up and left | ${stuckCalls} | 0 | ${yes(stuckCalls === 0)} |`,
    `| Sessions, users, histories left ${format(soak.settledAfterMs / 1000, 1)} s after the last user left (grace period) | ${stuckSessions} | 0 | ${yes(stuckSessions === 0)} |`,
    `| Events lost / duplicated / unexpected (of ${format(events, 0)} checked by seq) | ${lost} / ${duplicated} / ${unexpected} | 0 | ${yes(lost + duplicated + unexpected === 0)} |`,
    "",
    "Samples (after each round; heap after two full GCs):",
    "",
    "| Minute | Setups so far | Heap node 1 | Heap node 2 | Redis used_memory | Redis keys |",
    "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[soak.start, ...soak.samples].map(
      (s) =>
        `| ${format(s.atMin, 2)} | ${format(s.setups, 0)} | ${format((s.heapUsed[0] ?? 0) / MiB, 2)} MiB | ${format((s.heapUsed[1] ?? 0) / MiB, 2)} MiB | ${format(s.redisUsedMemory / MiB, 2)} MiB | ${s.redisKeys} |`,
    ),
  ].join("\n");
}

const KBPS = (value: number) => `${format(value, 0)} kbit/s`;

/** B9's section: group calls, ours beside a PeerJS mesh from the same run. */
export function renderGroup(group: GroupResult, context: Pick<ReportContext, "machine" | "command" | "date" | "durationS">): string {
  const ours = group.systems.ours;
  const mesh = group.systems.peerjsMesh;
  const ms = (value: number) => (Number.isFinite(value) ? `${format(value, 0)} ms` : "—");
  const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${format(a / b, 2)}×` : "—");
  const n = ours.rounds.length;
  const timing = (name: string, pick: (r: GroupSystemResult) => Spread) => {
    const o = pick(ours);
    const p = pick(mesh);
    return [
      `| ${name}, p50 | ${ms(o.p50Ms)} | ${ms(p.p50Ms)} | ${ratio(o.p50Ms, p.p50Ms)} |`,
      `| ${name}, p95 | ${ms(o.p95Ms)} | ${ms(p.p95Ms)} | ${ratio(o.p95Ms, p.p95Ms)} |`,
    ];
  };
  const bytes = (value: number) => `${format(value, 0)} B`;
  const rpcRow = (name: string, o: GroupSystemResult["oneToOneRpcs"], p: GroupSystemResult["oneToOneRpcs"]) =>
    `| ${name} | ${o ? `${format(o.calls, 0)} requests, ${bytes(o.requestBytes)} up, ${bytes(o.responseBytes)} down` : "—"} | ${p ? `${format(p.calls, 0)} messages, ${bytes(p.requestBytes)} up, ${bytes(p.responseBytes)} down` : "—"} |`;
  const methods = Object.entries(ours.fourthRpcs?.byMethod ?? {})
    .map(([method, t]) => `${method} ${t.calls} (${bytes(t.requestBytes)} / ${bytes(t.responseBytes)})`)
    .join(", ");
  const server = ours.rounds.map((r) => r.fourth.serverRpcs).find((s) => s !== null);
  const serverText = server
    ? Object.entries(server)
        .map(([method, count]) => `${method} ${count}`)
        .join(", ")
    : "—";
  const steps = (r: GroupSystemResult) =>
    `created ${ms(r.fourthSteps.createdMs)}, remote description set ${ms(r.fourthSteps.remoteMs)}, connected ${ms(r.fourthSteps.connectedMs)}; the others' connections to the joiner created ${ms(r.fourthSteps.existingCreatedMs)}, connected ${ms(r.fourthSteps.existingConnectedMs)}`;
  const label = (size: number) => {
    const notes = [ours, mesh].flatMap((r) => {
      const w = windowFor(r, size);
      return w?.incomplete ? [`${r === ours ? "ours" : "PeerJS mesh"} incomplete: ${w.incomplete}`] : [];
    });
    return notes.length ? `${size}, incomplete (below)` : `${size}`;
  };
  const windowFor = (r: GroupSystemResult, size: number) => r.windows.find((w) => w.participants === size);
  const sizes = [...new Set([...ours.windows, ...mesh.windows].map((w) => w.participants))].sort((a, b) => a - b);
  const cpuRows = sizes.map((size) => {
    const o = windowFor(ours, size);
    const p = windowFor(mesh, size);
    const cell = (w: SteadyWindow | undefined) =>
      w ? `${format(w.cpuMeanPercent, 0)} % (${w.people.map((x) => format(x.cpuPercent, 0)).join(" / ")}); decoded fps min ${format(w.decodeFpsMin, 1)}, median ${format(w.decodeFpsMedian, 1)}; machine ${format(w.machineBusyPercent, 0)} % busy` : "did not run";
    return `| ${label(size)} | ${cell(o)} | ${cell(p)} |`;
  });
  const uplinkRows = sizes.map((size) => {
    const o = windowFor(ours, size);
    const p = windowFor(mesh, size);
    const cell = (w: SteadyWindow | undefined) => {
      if (!w) return "did not run";
      const links = w.people.flatMap((x) => x.links);
      const perLink = links.map((l) => l.kbps).sort((a, b) => a - b);
      const frames = [...new Set(links.map((l) => `${l.width}×${l.height}`))].join(", ");
      const fps = links.map((l) => l.encodeFps).sort((a, b) => a - b);
      const caps = [
        ...new Set(
          links.map((l) => `${l.maxBitrate === null ? "no cap" : `${format(l.maxBitrate / 1000, 0)} kbit/s`} ÷${format(l.scaleResolutionDownBy ?? 1, 2)}`),
        ),
      ].join(", ");
      return (
        `${KBPS(w.uplinkMeanKbps)} (max ${KBPS(w.uplinkMaxKbps)}); senders set to ${caps}; per connection ${format(perLink[0] ?? Number.NaN, 0)}–${format(perLink.at(-1) ?? Number.NaN, 0)}; ` +
        `sent ${frames} at ${format(fps[0] ?? Number.NaN, 0)}–${format(fps.at(-1) ?? Number.NaN, 0)} fps`
      );
    };
    const limit = o?.limit;
    const caps = limit
      ? `${limit.maxBitrate === null ? "no bitrate cap" : `${format(limit.maxBitrate / 1000, 0)} kbit/s`} × ${size - 1} = ${limit.maxBitrate === null ? "—" : KBPS((limit.maxBitrate * (size - 1)) / 1000)}; ${limit.maxHeight === null ? "camera size" : `≤ ${limit.maxHeight}p`}`
      : "—";
    return `| ${label(size)} | ${cell(o)} | ${caps} | ${cell(p)} |`;
  });
  const incomplete = [ours, mesh].flatMap((r) =>
    r.windows.flatMap((w) => (w.incomplete ? [`${r === ours ? "ours" : "PeerJS mesh"}, ${w.participants} people: ${w.incomplete}`] : [])),
  );
  const errors = [...ours.windowErrors.map((e) => `ours: ${e}`), ...mesh.windowErrors.map((e) => `PeerJS mesh: ${e}`)];
  return [
    ...machineLines(context),
    `- **Browser:** ${group.browser}, headless, one instance per participant, fake camera + microphone opened with the app's ask (1280×720)`,
    `- **Rounds:** ${n} measured (after ${group.sizes.warmup} warm-up) per system; steady windows of ${format(group.sizes.windowMs / 1000, 0)} s after ${format(group.sizes.settleMs / 1000, 0)} s`,
    "",
    "Accept → first frame presented (requestVideoFrameCallback) from everyone; the PeerJS mesh is the same run's:",
    "",
    "| Figure | Ours | PeerJS mesh | Ratio |",
    "| --- | ---: | ---: | ---: |",
    ...timing("1:1 call, both sides", (r) => r.oneToOne.everyone),
    ...timing("4-person call, the joiner's page: last of the 3 remote videos", (r) => r.fourth.joiner),
    ...timing("4-person call, the 3 others' pages: the joiner's video, last of them", (r) => r.fourth.existing),
    ...timing("4-person call, everyone sees everyone", (r) => r.fourth.everyone),
    ...timing("3-person call, everyone sees everyone", (r) => r.third.everyone),
    "",
    `Where the 4th join's time goes (median ms after Accept, the last of the joiner's three new connections): ` +
      `${steps(ours)} (ours); ${steps(mesh)} (PeerJS mesh). ` +
      `The machine was ${format(ours.roundsMachineBusyPercent, 0)} % busy during our rounds, ${format(mesh.roundsMachineBusyPercent, 0)} % during the mesh's (all cores, every process).`,
    "",
    "Signaling a join costs, summed over every page (median of the rounds; ours: gRPC-Web requests through fetch and their bytes, JoinCall stream bytes included; PeerJS: WebSocket messages):",
    "",
    "| Join | Ours | PeerJS mesh |",
    "| --- | --- | --- |",
    rpcRow("1:1 call (the callee's Accept)", ours.oneToOneRpcs, mesh.oneToOneRpcs),
    rpcRow("4th participant", ours.fourthRpcs, mesh.fourthRpcs),
    "",
    `Ours, the 4th join by method (requests, bytes up / down): ${methods || "—"}. The server counted (peertobeer_rpcs_total): ${serverText}.`,
    "",
    "Browser CPU per participant over the steady window (all of its Chromium's processes, % of one core; each participant's in turn):",
    "",
    "| People | Ours | PeerJS mesh |",
    "| ---: | --- | --- |",
    ...cpuRows,
    "",
    "Video uplink per sender at steady state (getStats outbound-rtp, summed over its connections; mean over senders):",
    "",
    "| People | Ours | Ours: the SDK's cap per connection × connections | PeerJS mesh (no cap) |",
    "| ---: | --- | --- | --- |",
    ...uplinkRows,
    "",
    `What the SDK asks per call size (meshVideoLimit, packages/client/src/first-frames.ts), per connection × connections: ${[3, 4, 5, 6]
      .map((size) => {
        const limit = meshVideoLimit(size);
        return `${size} people ${format((limit.maxBitrate ?? 0) / 1000, 0)} kbit/s × ${size - 1} = ${KBPS(((limit.maxBitrate ?? 0) * (size - 1)) / 1000)}, ≤ ${limit.maxHeight}p`;
      })
      .join("; ")}.`,
    ...(incomplete.length
      ? ["", `Incomplete windows (not everyone showed everyone within the step timeout; measured anyway, as it was): ${incomplete.join("; ")}.`]
      : []),
    ...(errors.length ? ["", `Not measured: ${errors.join("; ")}`] : []),
  ].join("\n");
}
