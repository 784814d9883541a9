import { readFileSync } from "node:fs";
import type { LoadConfig, LoadMethods, SystemId } from "../load/types.js";
import type { ProcessStats, TargetInfo, TargetMethods } from "../targets/introspect.js";
import { Child } from "./child.js";

export type Target = Child<TargetMethods, TargetInfo>;
export type Load = Child<LoadMethods, { system: SystemId }>;

const HOST = "127.0.0.1";
const UNLIMITED_RATE = 1_000_000;

export interface TargetOptions {
  /** PeerJS only: its concurrent_limit (default 5,000) must admit every simulated session. */
  maxSessions: number;
  /** Directory for a V8 CPU profile of the server (written when it exits), or undefined. */
  cpuProfileDir: string | undefined;
  /** Ours only: settings over the defaults below (fixed ports for a restart, say). */
  env?: Record<string, string>;
  /** Ours only: our transports around a relay that does nothing else (the B1 floor). */
  relayFloor?: boolean;
}

function profileFlags(dir: string | undefined): string[] {
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/** Starts the server under test for `system` in its own process; resolves once it listens. */
export function startTarget(system: SystemId, options: TargetOptions): Promise<Target> {
  const nodeFlags = profileFlags(options.cpuProfileDir);
  if (system === "peerjs") {
    return Child.start<TargetMethods, TargetInfo>({
      name: "PeerJS server",
      script: "peerjs-under-test.ts",
      nodeFlags,
      env: { BENCH_MAX_SESSIONS: String(options.maxSessions) },
    });
  }
  if (options.relayFloor) {
    return Child.start<TargetMethods, TargetInfo>({ name: "relay floor", script: "relay-floor-under-test.ts", nodeFlags });
  }
  return Child.start<TargetMethods, TargetInfo>({
    name: "Peer-to-Beer server",
    script: "server-under-test.ts",
    nodeFlags,
    // The production configuration, on loopback, without STUN (nothing here reaches it) and
    // with logs limited to warnings. The per-session rate limit is lifted: one simulated user
    // sets up calls hundreds of times faster than a person can (the limiter still runs on every
    // RPC, so its cost is measured). Everything else keeps its default.
    env: {
      HOST,
      PORT: "0",
      GRPC_PORT: "0",
      ICE_SERVERS: "",
      LOG_LEVEL: "warn",
      RATE_LIMIT_PER_SEC: String(UNLIMITED_RATE),
      RATE_LIMIT_BURST: String(UNLIMITED_RATE),
      ...options.env,
    },
  });
}

/** The port `system`'s clients connect to on `target`. */
function portFor(system: SystemId, target: Target): number {
  const port = system === "ours-grpc" ? target.info.grpcPort : target.info.webPort;
  if (port === undefined) throw new Error(`${target.name} did not report a port for ${system}`);
  return port;
}

/** Ours only: where the callees join (another node), and which client the users run. */
export interface LoadOptions {
  calleeTarget?: Target;
  client?: LoadConfig["client"];
}

/** A load generator for `system` against `target`. */
export function startLoad(
  system: SystemId,
  target: Target,
  name: string,
  stepTimeoutMs: number,
  cpuProfileDir: string | undefined,
  options: LoadOptions = {},
): Promise<Load> {
  const config: LoadConfig = {
    system,
    host: HOST,
    port: portFor(system, target),
    stepTimeoutMs,
    ...(options.calleeTarget ? { calleePort: portFor(system, options.calleeTarget) } : {}),
    ...(options.client ? { client: options.client } : {}),
  };
  return Child.start<LoadMethods, { system: SystemId }>({
    name,
    script: "load/worker.ts",
    args: [JSON.stringify(config)],
    nodeFlags: profileFlags(cpuProfileDir),
  });
}

/** CPU microseconds (user + system) the server spent between two readings. */
export function cpuUs(before: ProcessStats, after: ProcessStats): number {
  return after.cpuUserUs + after.cpuSystemUs - (before.cpuUserUs + before.cpuSystemUs);
}

/**
 * CPU microseconds (user + system) a process has used so far, from /proc/<pid>/stat: for the
 * processes that have no stats method (load generators). Resolution is one clock tick (10 ms).
 */
export function procCpuUs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name (which may hold spaces); utime and stime are
  // the 14th and 15th fields of the whole line.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / CLOCK_TICKS) * 1e6;
}

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;

/**
 * CPU microseconds every core of the machine has spent busy so far (/proc/stat: user, nice,
 * system, irq, softirq, steal), so a workload can tell how much of the machine went to processes
 * other than the ones it measures (another test suite on a shared machine, say).
 */
export function machineBusyUs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((t, v) => t + (v ?? 0), 0);
  return (ticks / CLOCK_TICKS) * 1e6;
}
