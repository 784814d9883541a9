import type { LatencySummary } from "../lib/stats.js";
import type { WireCounter } from "./wire.js";

/** The three systems the bench drives: ours over each transport, and the PeerJS baseline. */
export type SystemId = "ours-grpc" | "ours-web" | "peerjs";

export interface LoadConfig {
  system: SystemId;
  host: string;
  /** ours-grpc: native gRPC port; ours-web: gRPC-Web port; peerjs: PeerJS port. */
  port: number;
  /** A setup step waiting longer than this fails that setup. */
  stepTimeoutMs: number;
  /**
   * Ours only: callees join on this port instead (another node of a cluster, so every event of
   * a call crosses nodes); callers stay on `port`. Default: `port`.
   */
  calleePort?: number;
  /**
   * Ours only: "connect" (default) is connect-node, as close to the browser's connect-web as
   * Node gets; "raw" is the lean raw-framing client (raw.ts), for throughput figures.
   */
  client?: "connect" | "raw";
}

/** Counters of one simulated user; a workload reads their change over a run. */
export interface SideMeter {
  wire: WireCounter;
  /** Signaling messages sent: unary RPCs for ours, WebSocket messages for PeerJS (heartbeats apart). */
  sent: number;
  /** Signaling messages received: stream messages for ours, WebSocket messages for PeerJS (heartbeats apart). */
  received: number;
  heartbeats: number;
}

/** A caller and a callee, both joined, that can set up a call again and again. */
export interface CallPair {
  caller: SideMeter;
  callee: SideMeter;
  /**
   * One complete call setup: offer → answer → every candidate both ways, then whatever the
   * system needs to be ready for the next call. Resolves with the setup latency in ms (offer
   * sent → both sides have all the other's candidates).
   */
  setup(): Promise<number>;
  /**
   * Ours only: relay latencies of the setups so far, taken and cleared: for each relayed event
   * (offer, answer, call ended), ms from its RPC being sent to its arrival on the other stream.
   */
  takeRelays?(): number[];
}

/**
 * What the simulated users' streams delivered, checked message by message: every event's seq
 * must be exactly the previous + 1 (heartbeats repeat the last seq and are not events).
 */
export interface Integrity {
  /** Events received (joined and heartbeats apart). */
  events: number;
  /** Events skipped: the gaps in seq. */
  lost: number;
  /** Events whose seq had been seen already. */
  duplicated: number;
  /** Events received that no setup expected (left in an inbox when its user closed). */
  unexpected: number;
}

export interface Driver {
  /** Opens `count` idle joined sessions named `${prefix}${i}`, at most `concurrency` joining at once. */
  openIdle(count: number, prefix: string, concurrency: number): Promise<string[]>;
  openPairs(count: number, prefix: string): Promise<CallPair[]>;
  closePairs(): Promise<void>;
  closeAll(): Promise<void>;
  /** Ours only: the integrity of every stream this driver opened so far. */
  integrity?(): Integrity;
}

export interface SideTally {
  sent: number;
  received: number;
  heartbeats: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SetupRun {
  completed: number;
  errors: number;
  errorSamples: string[];
  wallMs: number;
  latency: LatencySummary;
  /** Totals over the run, over all callers / all callees. */
  caller: SideTally;
  callee: SideTally;
  /** Ours only: relay latency of every event relayed in the run (see CallPair.takeRelays). */
  relay?: LatencySummary;
  /** With keepSamples: every latency, so runs of several load processes merge exactly. */
  samples?: { latencies: number[]; relays: number[] };
}

export type LoadMethods = {
  openIdle: { params: { count: number; prefix: string; concurrency: number }; result: { opened: number; errors: string[] } };
  openPairs: { params: { count: number; prefix: string }; result: { pairs: number } };
  /**
   * Runs setups on every open pair at once until `total` completed or `durationMs` passed.
   * With `paceMs`, each pair starts a setup at most every `paceMs` (a steady rate, for the soak).
   */
  runSetups: { params: { total?: number; durationMs?: number; paceMs?: number; keepSamples?: boolean }; result: SetupRun };
  /** Ours only: see Driver.integrity. */
  integrity: { params: Record<string, never>; result: Integrity };
  closePairs: { params: Record<string, never>; result: null };
  closeAll: { params: Record<string, never>; result: null };
};
