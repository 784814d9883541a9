import { setImmediate as nextTurn } from "node:timers/promises";

/** What the orchestrator reads from a server under test. */
export interface ProcessStats {
  /** process.cpuUsage(), microseconds since the process started. */
  cpuUserUs: number;
  cpuSystemUs: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  rss: number;
  /** Open sessions as the server itself counts them (hub sessions, PeerJS realm clients). */
  sessions: number;
  /** Events the server keeps for a resume (ours); PeerJS keeps none. */
  keptEvents: number;
}

export type TargetMethods = {
  /** Reads CPU and memory; with `gc`, after full garbage collections so heap is what is retained. */
  stats: { params: { gc: boolean }; result: ProcessStats };
};

export interface TargetInfo {
  system: "ours" | "peerjs";
  /** ours: gRPC-Web/Connect port; peerjs: HTTP + WebSocket port. */
  webPort: number;
  /** ours only: native gRPC port. */
  grpcPort?: number;
}

export async function readStats(gc: boolean, sessions: () => number, keptEvents: () => number = () => 0): Promise<ProcessStats> {
  if (gc) {
    const collect = globalThis.gc;
    if (!collect) throw new Error("start the server under test with --expose-gc");
    // Two rounds with a turn between, so objects freed by finalizers of the first go too.
    collect();
    await nextTurn();
    collect();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    heapUsed: memory.heapUsed,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
    rss: memory.rss,
    sessions: sessions(),
    keptEvents: keptEvents(),
  };
}
