/**
 * Keeps the benchmark from rotting: runs `bench/run.ts --smoke` (every workload at tiny sizes)
 * and checks that it produced a figure for everything, that both systems completed every
 * call setup without an error, and that B4 measured its calls in Chromium for ours, PeerJS and
 * the floor, Accept at once and after ringing. It asserts nothing about speed: figures come
 * from `npm run bench`.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import * as os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCEPT_TIMINGS, B4_SYSTEMS, type AcceptToFrameResult } from "../browser/accept-to-frame.js";
import { RING_MS } from "../browser/common.js";
import type { SetupRun } from "../load/types.js";
import type { ClusterResult, ClusterRushResult } from "../lib/cluster.js";
import type { RushResult, SystemResult } from "../lib/phases.js";
import type { SoakResult } from "../lib/soak.js";
import type { Faults, Figure } from "../lib/report.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface SmokeResults {
  mode: string;
  problems: string[];
  figures: Figure[];
  systems: Record<string, SystemResult>;
  b4: AcceptToFrameResult | null;
  faults: Faults;
  clusters: ClusterResult[];
  soak: SoakResult | null;
}

let dir = "";
let results: SmokeResults;
let output = "";
let bench: ChildProcess | undefined;

function runSmoke(resultsDir: string, mode: string[] = []): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "bench/run.ts", ...mode, "--smoke"], {
      cwd: ROOT,
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir, BENCH_CPU_PROF: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    bench = child;
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve(code));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(os.tmpdir(), "bench-smoke-"));
  const code = await runSmoke(dir);
  const files = (await readdir(dir)).filter((name) => name.endsWith(".json"));
  if (files.length !== 1 || !files[0]) throw new Error(`expected one results file (exit ${code}):\n${output}`);
  results = JSON.parse(await readFile(join(dir, files[0]), "utf8")) as SmokeResults;
  if (code !== 0) throw new Error(`bench --smoke exited with ${code}:\n${output}`);
}, 240_000);

afterAll(async () => {
  // Only if the run outlived the hook's timeout; bench/run.ts kills its own children on SIGTERM.
  if (bench && bench.exitCode === null && bench.signalCode === null) bench.kill("SIGTERM");
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench -- --smoke", () => {
  it("reports no problem", () => {
    expect(results.mode).toBe("smoke");
    expect(results.problems).toEqual([]);
  });

  it("gives every figure as a finite positive number for ours and for PeerJS", () => {
    expect(results.figures.length).toBeGreaterThan(0);
    for (const figure of results.figures) {
      const where = `${figure.id} ${figure.name} (${figure.transport})`;
      for (const value of [figure.ours, figure.peerjs, figure.ratio]) {
        expect(Number.isFinite(value), `${where}: ${value}`).toBe(true);
        expect(value, where).toBeGreaterThan(0);
      }
    }
  });

  it("completes every call setup on both systems with zero errors", () => {
    for (const system of ["ours-grpc", "ours-web", "peerjs"]) {
      const result = results.systems[system];
      expect(result, system).toBeDefined();
      if (!result) continue;
      const runs: SetupRun[] = [
        result.cpu.warmup,
        result.cpu.run,
        result.rush.warmup,
        result.rush.run,
        ...result.levels.map((level) => level.setups),
        result.afterCalls.setups,
      ];
      for (const run of runs) {
        expect(run.errors, `${system}: ${run.errorSamples.join("\n")}`).toBe(0);
        expect(run.completed, system).toBeGreaterThan(0);
      }
      expect(result.cpu.run.completed, system).toBe(20);
      // B2's server ran alone on core 0 (on 2 cores or more).
      expect(result.rush.pinned, system).toEqual(os.cpus().length > 1 ? expect.objectContaining({ server: "0" }) : null);
      expect(result.afterCalls.setups.completed, system).toBe(50);
      for (const level of result.levels) expect(level.joinErrors, system).toEqual([]);
    }
  });

  it("measures the cluster figures (B8, B1, B2 with two nodes against one) on both transports", () => {
    expect(results.clusters.map((cluster) => cluster.system)).toEqual(["ours-grpc", "ours-web"]);
    for (const cluster of results.clusters) {
      const where = cluster.system;
      const runs: SetupRun[] = [
        cluster.cpu.run,
        cluster.relaySameNode,
        cluster.relayCrossNode,
        cluster.rushOneNode.run,
        cluster.rushTwoNodes.run,
      ];
      for (const run of runs) {
        expect(run.errors, `${where}: ${run.errorSamples.join("\n")}`).toBe(0);
        expect(run.completed, where).toBeGreaterThan(0);
      }
      // Three relayed events per setup (offer, answer, call ended), each timed.
      for (const run of [cluster.relaySameNode, cluster.relayCrossNode]) {
        expect(run.relay?.count, where).toBe(3 * run.completed);
        expect(run.relay?.p50Ms, where).toBeGreaterThan(0);
      }
      expect(cluster.cpu.nodeCpuUs.every((us) => us > 0), where).toBe(true);
      expect(cluster.cpu.redisCpuUs, where).toBeGreaterThan(0);
      // Every process of a B2 run is measured: the nodes, Redis and each load generator.
      const roles = (shares: { role: string }[]) => shares.map((share) => share.role).sort();
      expect(roles(cluster.rushTwoNodes.shares), where).toEqual(["load", "load", "machine", "redis", "server", "server"]);
      expect(roles(cluster.rushOneNode.shares), where).toEqual(["load", "load", "machine", "redis", "server"]);
      // One node alone on a core of its own (on 2 cores or more); two nodes are not pinned.
      expect(cluster.rushOneNode.pinned, where).toEqual(os.cpus().length > 1 ? expect.objectContaining({ server: "0" }) : null);
      expect(cluster.rushTwoNodes.pinned, where).toBeNull();
      for (const share of [...cluster.rushOneNode.shares, ...cluster.rushTwoNodes.shares]) expect(share.share, share.name).toBeGreaterThan(0);
    }
    for (const system of ["ours-grpc", "ours-web"]) {
      expect(results.systems[system]?.relay?.relay?.p50Ms, system).toBeGreaterThan(0);
    }
  });

  it("runs the churn soak across two nodes: no stuck call or session, no lost or duplicated event", () => {
    const soak = results.soak;
    expect(soak, "soak results").not.toBeNull();
    if (!soak) return;
    expect(soak.errors, soak.errorSamples.join("\n")).toBe(0);
    expect(soak.setups).toBeGreaterThan(0);
    expect(soak.samples.length).toBe(soak.rounds);
    expect(soak.samples.every((sample) => sample.heapUsed.length === 2 && sample.redisUsedMemory > 0)).toBe(true);
    expect(soak.heapSlopeBytesPerMin.every(Number.isFinite)).toBe(true);
    expect([soak.atClose.calls, soak.atClose.inCall]).toEqual([0, 0]);
    expect(soak.settled).toMatchObject({ calls: 0, inCall: 0, sessions: 0, users: 0, histories: 0 });
    expect(soak.nodeSessions).toEqual([0, 0]);
    expect(soak.integrity.events).toBeGreaterThan(0);
    expect([soak.integrity.lost, soak.integrity.duplicated, soak.integrity.unexpected]).toEqual([0, 0, 0]);
  });

  it("measures B4 (Accept → first frame presented) for ours, PeerJS and the floor, Accept at once and after ringing", () => {
    const b4 = results.b4;
    expect(b4, "B4 results").not.toBeNull();
    if (!b4) return;
    for (const system of B4_SYSTEMS) {
      const result = b4.systems[system];
      expect(result.errors, system).toEqual([]);
      expect(result.calls.map((call) => call.ringMs > 0), system).toEqual([false, true]);
      for (const timing of ACCEPT_TIMINGS) {
        for (const view of [result.series[timing].summary, result.series[timing].caller, result.series[timing].callee]) {
          expect(view.count, `${system} ${timing}`).toBe(1);
          expect(view.p50Ms, `${system} ${timing}`).toBeGreaterThan(0);
        }
      }
      for (const call of result.calls) {
        expect(call.callerMs, system).toBeGreaterThan(0);
        expect(call.calleeMs, system).toBeGreaterThan(0);
      }
    }
    const ringing = b4.systems.ours.calls.find((call) => call.ringMs > 0);
    expect(ringing?.ringMs).toBeGreaterThanOrEqual(RING_MS.min);
    expect(output, "the B4 table").toContain("after 1–3 s of ringing");
  });

  it("measures resume after a cut and a drain with calls up, losing nothing", () => {
    const { resume, drain } = results.faults;
    expect(resume.samples).toBe(resume.users * resume.rounds);
    expect(resume.resumed).toBe(resume.users * resume.rounds);
    expect([resume.lost, resume.duplicated, resume.outOfOrder]).toEqual([0, 0, 0]);
    expect(resume.resume.p95Ms).toBeGreaterThan(0);
    expect(drain.exitCode).toBe(0);
    expect(drain.failedAttempts, drain.failureSamples.join("\n")).toBe(0);
    expect(drain.drainMs).toBeGreaterThan(0);
  });
});

/**
 * `--b2 --smoke`: B2 and its cluster rows alone, at tiny sizes, in its own results file; run
 * after the full smoke run (both hold the machine, so not at once).
 */
describe("npm run bench -- --b2 --smoke", () => {
  let b2: { mode: string; problems: string[]; rushes: Record<string, RushResult>; clusters: ClusterRushResult[] };
  let b2Dir = "";

  beforeAll(async () => {
    b2Dir = await mkdtemp(join(os.tmpdir(), "bench-b2-smoke-"));
    output = "";
    const code = await runSmoke(b2Dir, ["--b2"]);
    const files = (await readdir(b2Dir)).filter((name) => name.endsWith(".json"));
    if (files.length !== 1 || !files[0] || !files[0].endsWith("-b2-smoke.json")) throw new Error(`expected one -b2-smoke.json (exit ${code}):\n${output}`);
    b2 = JSON.parse(await readFile(join(b2Dir, files[0]), "utf8")) as typeof b2;
    if (code !== 0) throw new Error(`bench --b2 --smoke exited with ${code}:\n${output}`);
  }, 180_000);

  afterAll(async () => {
    if (b2Dir) await rm(b2Dir, { recursive: true, force: true });
  });

  it("sets up calls on every system and the cluster with zero errors, each process's CPU share beside", () => {
    expect(b2.mode).toBe("b2-smoke");
    expect(b2.problems).toEqual([]);
    expect(Object.keys(b2.rushes)).toEqual(["ours-grpc", "ours-web", "peerjs"]);
    const pinned = os.cpus().length > 1 ? expect.objectContaining({ server: "0" }) : null;
    const runs: [string, RushResult][] = [
      ...Object.entries(b2.rushes),
      ...b2.clusters.flatMap((c): [string, RushResult][] => [[`${c.system} one node`, c.rushOneNode], [`${c.system} two nodes`, c.rushTwoNodes]]),
    ];
    for (const [where, rush] of runs) {
      expect(rush.run.errors, `${where}: ${rush.run.errorSamples.join("\n")}`).toBe(0);
      expect(rush.run.completed, where).toBeGreaterThan(0);
      expect(rush.setupsPerSecond, where).toBeGreaterThan(0);
      expect(rush.serverCpuShare, where).toBeGreaterThan(0);
      expect(rush.shares.filter((share) => share.role === "load").length, where).toBe(2);
      expect(rush.pinned, where).toEqual(where.endsWith("two nodes") ? null : pinned);
    }
    expect(b2.clusters.map((c) => c.system)).toEqual(["ours-grpc", "ours-web"]);
    expect(output, "the B2 table").toContain("| B2 run | Setups/s |");
  });
});
