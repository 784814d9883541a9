/**
 * `npm run bench`: Peer-to-Beer against PeerJS on the same workload, in one run.
 *
 *   npm run bench                 full run; writes bench/results/<time>.json and docs/BENCHMARKS.md
 *   npm run bench -- --smoke      tiny sizes (also BENCH_SMOKE=1); leaves the docs alone
 *   npm run bench -- --soak       only the cluster churn soak (--soak-minutes N, default 30);
 *                                 writes bench/results/<time>-soak.json and its section of the docs;
 *                                 --soak-nodes 1 runs it on one node, a control (the docs are left alone)
 *   npm run bench -- --group      only B9, group calls in Chromium (with --smoke: tiny sizes);
 *                                 writes bench/results/<time>-group.json and its section of the docs
 *   npm run bench -- --b4         only B4, Accept → first frame in Chromium (with --smoke: tiny
 *                                 sizes); writes bench/results/<time>-b4.json, leaves the docs alone
 *   npm run bench -- --b2         only B2, setups per second, and its cluster rows (with --smoke:
 *                                 tiny sizes); writes bench/results/<time>-b2.json, leaves the docs alone
 *
 * BENCH_RESULTS_DIR overrides where the JSON goes; BENCH_CPU_PROF=<dir> writes a V8 CPU
 * profile of every server under test into <dir>. B4 (bench/browser/) drives Chromium at
 * CHROMIUM_PATH (default /usr/bin/chromium). See docs/BENCHMARKS.md for the method.
 */
import { mkdir, writeFile } from "node:fs/promises";
import * as os from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { B4_SYSTEMS, measureAcceptToFrame, type AcceptToFrameResult } from "./browser/accept-to-frame.js";
import { measureDrain } from "./faults/drain.js";
import { measureResume } from "./faults/resume.js";
import type { SystemId } from "./load/types.js";
import { loadFixture } from "./lib/fixture.js";
import { FULL, runSystems, rushSetups, SMOKE, type RushResult, type SystemResult } from "./lib/phases.js";
import { clusterRush, clusterSetups, type ClusterResult, type ClusterRushResult } from "./lib/cluster.js";
import { buildFigures, renderB2, renderB4, renderCluster, renderGroup, renderReport, renderSoak, updateDoc, type Faults, type Machine, type ReportContext } from "./lib/report.js";
import { runSoak, SOAK_FULL, SOAK_SMOKE, type SoakResult } from "./lib/soak.js";
import { GROUP_FULL, GROUP_SMOKE, GROUP_SYSTEMS, measureGroupCalls, type GroupResult } from "./browser/group.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SYSTEMS: SystemId[] = ["ours-grpc", "ours-web", "peerjs"];

const smoke = process.argv.includes("--smoke") || process.env.BENCH_SMOKE === "1";
const soakOnly = process.argv.includes("--soak");
const groupOnly = process.argv.includes("--group");
const b4Only = process.argv.includes("--b4");
const b2Only = process.argv.includes("--b2");
const sizes = smoke ? SMOKE : FULL;
const resultsDir = resolve(process.env.BENCH_RESULTS_DIR ?? `${ROOT}bench/results`);
const cpuProfileDir = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;

function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown CPU",
    cores: cpus.length,
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
  };
}

function command(): string {
  const flags = process.argv.slice(2);
  if (process.env.npm_lifecycle_event === "bench") return ["npm run bench", ...(flags.length ? ["--", ...flags] : [])].join(" ");
  return ["node --import tsx bench/run.ts", ...flags].join(" ");
}

/** The value after `flag` on the command line, if given. */
function flagValue(flag: string): string | undefined {
  const at = process.argv.indexOf(flag);
  return at < 0 ? undefined : process.argv[at + 1];
}

function soakMinutes(): number {
  const given = flagValue("--soak-minutes");
  const minutes = given === undefined ? 30 : Number(given);
  if (!(minutes > 0)) throw new Error(`--soak-minutes wants a positive number, got ${given}`);
  return minutes;
}

/**
 * What the soak found against its goals. Failed setups make its figures untrustworthy; stuck
 * state and lost events are findings, reported as such (the doc shows them as unmet goals).
 */
function soakProblems(soak: SoakResult): { broken: string[]; findings: string[] } {
  const broken = soak.errors > 0 ? [`soak: ${soak.errors} failed setups, e.g. ${soak.errorSamples[0] ?? "?"}`] : [];
  const findings: string[] = [];
  const calls = soak.atClose.calls + soak.atClose.inCall + soak.settled.calls + soak.settled.inCall;
  if (calls > 0) findings.push(`soak: ${calls} stuck call key(s)/entries once every user left`);
  const left = soak.settled.sessions + soak.settled.users + soak.settled.histories;
  if (left > 0) findings.push(`soak: ${left} session key(s)/entries left after the grace period`);
  const { lost, duplicated, unexpected } = soak.integrity;
  if (lost + duplicated + unexpected > 0) findings.push(`soak: events lost ${lost}, duplicated ${duplicated}, unexpected ${unexpected}`);
  if (soak.nodeSessions.some((n) => n !== 0)) findings.push(`soak: the nodes still hold ${soak.nodeSessions.join(" / ")} streams`);
  return { broken, findings };
}

/** `npm run bench -- --soak`: the churn soak alone. */
async function soakMain(): Promise<number> {
  const began = Date.now();
  const log = (line: string) => console.log(line);
  const nodes = flagValue("--soak-nodes") === "1" ? 1 : 2;
  const sizes = { ...(smoke ? SOAK_SMOKE : { ...SOAK_FULL, durationMs: soakMinutes() * 60_000 }), nodes } as const;
  log(`Churn soak over ${nodes} cluster node(s) for ${(sizes.durationMs / 60_000).toFixed(1)} min (${os.cpus().length} cores, Node ${process.version}):`);
  const soak = await runSoak(sizes, { cpuProfileDir, log });
  const context = { machine: machine(), command: command(), date: new Date(began).toISOString(), durationS: (Date.now() - began) / 1000 };
  const report = renderSoak(soak, context);
  const { broken, findings } = soakProblems(soak);
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/${new Date(began).toISOString().replace(/[:.]/g, "-")}-soak${smoke ? "-smoke" : ""}.json`;
  await writeFile(file, `${JSON.stringify({ mode: smoke ? "soak-smoke" : "soak", context, sizes, problems: [...broken, ...findings], soak }, null, 2)}\n`);
  log("");
  log(report);
  log("");
  log(`results: ${file}`);
  if (!smoke && broken.length === 0 && nodes === 2) {
    await updateDoc(`${ROOT}docs/BENCHMARKS.md`, report, "soak");
    log("docs/BENCHMARKS.md (soak section) updated");
  }
  for (const problem of [...broken, ...findings]) log(`  - ${problem}`);
  return broken.length + findings.length > 0 ? 1 : 0;
}

/** Cluster runs with failed setups (B2's alone for a ClusterRushResult). */
function clusterProblems(cluster: ClusterResult | ClusterRushResult): string[] {
  const runs = [
    ...("cpu" in cluster
      ? ([
          ["B1 warm-up", cluster.cpu.warmup],
          ["B1", cluster.cpu.run],
          ["B8 one node", cluster.relaySameNode],
          ["B8 across nodes", cluster.relayCrossNode],
        ] as const)
      : []),
    ["B2 one node warm-up", cluster.rushOneNode.warmup],
    ["B2 one node", cluster.rushOneNode.run],
    ["B2 two nodes warm-up", cluster.rushTwoNodes.warmup],
    ["B2 two nodes", cluster.rushTwoNodes.run],
  ] as const;
  return runs.flatMap(([name, run]) =>
    run.errors > 0 ? [`${cluster.system} cluster ${name}: ${run.errors} failed setups, e.g. ${run.errorSamples[0] ?? "?"}`] : [],
  );
}

/** Problems that make the figures untrustworthy: failed setups, failed joins, lost sessions. */
function problems(result: SystemResult): string[] {
  const found: string[] = [];
  const runs = [
    ["B1 warm-up", result.cpu.warmup],
    ["B1", result.cpu.run],
    ...(result.relayFloor ? ([["B1 floor", result.relayFloor.run]] as const) : []),
    ...(result.relay ? ([["B8", result.relay]] as const) : []),
    ["B2 warm-up", result.rush.warmup],
    ["B2", result.rush.run],
    ...result.levels.map((level) => [`setups @ ${level.sessions}`, level.setups] as const),
  ] as const;
  for (const [name, run] of runs) {
    if (run.errors > 0) found.push(`${result.system} ${name}: ${run.errors} failed setups, e.g. ${run.errorSamples[0] ?? "?"}`);
  }
  for (const level of result.levels) {
    if (level.joinErrors.length > 0) {
      found.push(`${result.system} @ ${level.sessions}: sessions failed to join, e.g. ${level.joinErrors[0]}`);
    }
    const expected = level.sessions;
    if (level.serverSessions !== expected) {
      found.push(`${result.system} @ ${level.sessions}: the server counts ${level.serverSessions} sessions, expected ${expected}`);
    }
  }
  return found;
}

/** B4 problems: failed calls, or fewer measured calls than asked for. */
function b4Problems(b4: AcceptToFrameResult | undefined, error: string | undefined): string[] {
  if (!b4) return [`B4 did not run: ${error ?? "?"}`];
  const found: string[] = [];
  for (const system of B4_SYSTEMS) {
    const result = b4.systems[system];
    if (result.errors.length > 0) found.push(`B4 ${system}: ${result.errors.length} failure(s), e.g. ${result.errors[0]}`);
    // b4.calls per Accept timing: at once and after ringing.
    if (result.calls.length !== 2 * b4.calls) found.push(`B4 ${system}: ${result.calls.length} of ${2 * b4.calls} calls measured`);
  }
  return found;
}

/** Fault runs that did not do what they measure (a figure from them would mislead). */
function faultProblems(faults: Faults): string[] {
  const found: string[] = [];
  if (faults.resume.samples !== faults.resume.users * faults.resume.rounds) found.push("resume: not every user resumed every round");
  if (faults.drain.exitCode !== 0) found.push(`drain: the server exited with ${faults.drain.exitCode}`);
  return found;
}

/** B9 problems: failed rounds, fewer rounds than asked for, steady windows that did not run. */
function groupProblems(group: GroupResult | undefined, error: string | undefined): string[] {
  if (!group) return [`B9 did not run: ${error ?? "?"}`];
  const found: string[] = [];
  for (const system of GROUP_SYSTEMS) {
    const result = group.systems[system];
    if (result.errors.length > 0) found.push(`B9 ${system}: ${result.errors.length} failure(s), e.g. ${result.errors[0]}`);
    if (result.rounds.length !== group.sizes.calls) found.push(`B9 ${system}: ${result.rounds.length} of ${group.sizes.calls} rounds measured`);
    // Six people may not fit the machine (reported in the doc, not a failure); fewer may not.
    const sizes = result.windows.map((w) => w.participants);
    if (![2, 3, 4].every((n) => sizes.includes(n))) found.push(`B9 ${system}: steady windows for ${sizes.join(", ") || "none"} people only`);
  }
  return found;
}

async function runGroup(log: (line: string) => void): Promise<{ group: GroupResult | undefined; error: string | undefined }> {
  try {
    return { group: await measureGroupCalls({ sizes: smoke ? GROUP_SMOKE : GROUP_FULL, log }), error: undefined };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    log(`  B9 failed: ${text}`);
    return { group: undefined, error: text };
  }
}

/** `npm run bench -- --group`: B9 alone. */
async function groupMain(): Promise<number> {
  const began = Date.now();
  const log = (line: string) => console.log(line);
  log(`B9, group calls in Chromium, ours against a PeerJS mesh (${smoke ? "smoke" : "full"} run, ${os.cpus().length} cores, Node ${process.version}):`);
  const { group, error } = await runGroup(log);
  const context = { machine: machine(), command: command(), date: new Date(began).toISOString(), durationS: (Date.now() - began) / 1000 };
  const found = groupProblems(group, error);
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/${new Date(began).toISOString().replace(/[:.]/g, "-")}-group${smoke ? "-smoke" : ""}.json`;
  await writeFile(file, `${JSON.stringify({ mode: smoke ? "group-smoke" : "group", context, problems: found, group: group ?? null }, null, 2)}\n`);
  const report = group ? renderGroup(group, context) : "";
  log("");
  log(report);
  log("");
  log(`results: ${file}`);
  if (found.length > 0) {
    log(`\n${found.length} problem(s); docs/BENCHMARKS.md left unchanged:`);
    for (const problem of found) log(`  - ${problem}`);
    return 1;
  }
  if (!smoke) {
    await updateDoc(`${ROOT}docs/BENCHMARKS.md`, report, "group");
    log("docs/BENCHMARKS.md (group calls section) updated");
  }
  return 0;
}

async function runB4(log: (line: string) => void): Promise<{ b4: AcceptToFrameResult | undefined; error: string | undefined }> {
  log("B4, Accept → first remote frame presented (real Chromium):");
  try {
    return { b4: await measureAcceptToFrame({ calls: sizes.b4Calls, warmup: sizes.b4Warmup, log }), error: undefined };
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    log(`  B4 failed: ${text}`);
    return { b4: undefined, error: text };
  }
}

/** `npm run bench -- --b4`: B4 alone, for looking into first frames without the rest's load. */
async function b4Main(): Promise<number> {
  const began = Date.now();
  const log = (line: string) => console.log(line);
  const { b4, error } = await runB4(log);
  const context = { machine: machine(), command: command(), date: new Date(began).toISOString(), durationS: (Date.now() - began) / 1000 };
  const found = b4Problems(b4, error);
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/${new Date(began).toISOString().replace(/[:.]/g, "-")}-b4${smoke ? "-smoke" : ""}.json`;
  await writeFile(file, `${JSON.stringify({ mode: smoke ? "b4-smoke" : "b4", context, problems: found, b4: b4 ?? null }, null, 2)}\n`);
  log("");
  if (b4) log(renderB4(b4));
  log("");
  log(`results: ${file}`);
  for (const problem of found) log(`  - ${problem}`);
  return found.length > 0 ? 1 : 0;
}

/** `npm run bench -- --b2`: B2 and its cluster rows alone, a few minutes instead of the full run. */
async function b2Main(): Promise<number> {
  const began = Date.now();
  const log = (line: string) => console.log(line);
  log(`B2 alone, call setups per second (${smoke ? "smoke" : "full"} sizes, ${os.cpus().length} cores, Node ${process.version}):`);
  const rushes = {} as Record<SystemId, RushResult>;
  for (const system of SYSTEMS) rushes[system] = await rushSetups(system, { sizes, cpuProfileDir, log });
  log("Cluster mode (two nodes, one redis-server), each of our transports:");
  const clusters: ClusterRushResult[] = [];
  for (const system of SYSTEMS.filter((s) => s !== "peerjs")) clusters.push(await clusterRush(system, { sizes, cpuProfileDir, log }));
  const context = { machine: machine(), command: command(), date: new Date(began).toISOString(), durationS: (Date.now() - began) / 1000 };
  const runs = SYSTEMS.flatMap((system) => [
    [`${system} B2 warm-up`, rushes[system].warmup],
    [`${system} B2`, rushes[system].run],
  ] as const);
  const found = [
    ...runs.flatMap(([name, run]) => (run.errors > 0 ? [`${name}: ${run.errors} failed setups, e.g. ${run.errorSamples[0] ?? "?"}`] : [])),
    ...clusters.flatMap(clusterProblems),
  ];
  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/${new Date(began).toISOString().replace(/[:.]/g, "-")}-b2${smoke ? "-smoke" : ""}.json`;
  await writeFile(file, `${JSON.stringify({ mode: smoke ? "b2-smoke" : "b2", context, sizes, problems: found, rushes, clusters }, null, 2)}\n`);
  log("");
  log(renderB2(rushes, clusters));
  log("");
  log(`results: ${file}`);
  for (const problem of found) log(`  - ${problem}`);
  return found.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const began = Date.now();
  const fixture = loadFixture();
  const log = (line: string) => console.log(line);
  log(`Peer-to-Beer vs PeerJS (${smoke ? "smoke" : "full"} run, ${os.cpus().length} cores, Node ${process.version})`);

  log(`${SYSTEMS.join(", ")}, each workload for all of them in turn:`);
  const results = await runSystems(SYSTEMS, { sizes, cpuProfileDir, log });
  const systems = Object.fromEntries(results) as Record<SystemId, SystemResult>;

  log("Cluster mode (two nodes, one redis-server), each of our transports:");
  const clusters: ClusterResult[] = [];
  for (const system of SYSTEMS.filter((s) => s !== "peerjs")) clusters.push(await clusterSetups(system, { sizes, cpuProfileDir, log }));

  // The smoke run exercises the soak too, for a few seconds, so its code stays tested.
  let soak: SoakResult | undefined;
  if (smoke) {
    log("Churn soak (smoke size):");
    soak = await runSoak(SOAK_SMOKE, { cpuProfileDir, log });
  }

  const { b4, error: b4Error } = await runB4(log);

  // B9 is heavy (four to six Chromium instances); the smoke run leaves it to `--group --smoke`.
  let group: GroupResult | undefined;
  let groupError: string | undefined;
  if (!smoke) {
    log("B9, group calls (real Chromium, one per participant), ours against a PeerJS mesh:");
    ({ group, error: groupError } = await runGroup(log));
  }

  log("Faults (ours): resume after a cut, drain with calls up:");
  const faults = {
    resume: await measureResume({ users: sizes.resumeUsers, rounds: sizes.resumeRounds, joinsPerGap: 2, log }),
    drain: await measureDrain({ pairs: sizes.drainPairs, rpcIntervalMs: 50, log }),
  };

  const figures = buildFigures(systems);
  const context: ReportContext = {
    machine: machine(),
    command: command(),
    date: new Date(began).toISOString(),
    durationS: (Date.now() - began) / 1000,
    ...(b4 ? { browser: b4.browser } : {}),
    fixture: {
      browser: fixture.browser,
      offerBytes: Buffer.byteLength(fixture.offer.sdp),
      answerBytes: Buffer.byteLength(fixture.answer.sdp),
      callerCandidates: fixture.callerCandidates.length,
      calleeCandidates: fixture.calleeCandidates.length,
    },
  };
  const report = renderReport(figures, context, faults, renderCluster(clusters, systems), b4);
  const soakFound = soak ? soakProblems(soak) : { broken: [], findings: [] };
  // Each section of the page is written only from measurements without problems of their own:
  // B9 (four to six browsers on the machine) failing does not hold back the rest, nor the reverse.
  const benchFound = [
    ...SYSTEMS.flatMap((system) => problems(systems[system])),
    ...clusters.flatMap(clusterProblems),
    ...b4Problems(b4, b4Error),
    ...faultProblems(faults),
    ...soakFound.broken,
    ...soakFound.findings,
  ];
  const groupFound = smoke ? [] : groupProblems(group, groupError);
  const found = [...benchFound, ...groupFound];

  await mkdir(resultsDir, { recursive: true });
  const file = `${resultsDir}/${new Date(began).toISOString().replace(/[:.]/g, "-")}${smoke ? "-smoke" : ""}.json`;
  await writeFile(
    file,
    `${JSON.stringify({ mode: smoke ? "smoke" : "full", context, sizes, problems: found, figures, systems, clusters, b4: b4 ?? null, group: group ?? null, faults, soak: soak ?? null }, null, 2)}\n`,
  );

  log("");
  log(report);
  log("");
  log(`results: ${file}`);
  if (found.length > 0) {
    log(`\n${found.length} problem(s):`);
    for (const problem of found) log(`  - ${problem}`);
  }
  if (!smoke) {
    const doc = `${ROOT}docs/BENCHMARKS.md`;
    if (benchFound.length === 0) await updateDoc(doc, report);
    if (group && groupFound.length === 0) await updateDoc(doc, renderGroup(group, context), "group");
    log(`docs/BENCHMARKS.md: latest results ${benchFound.length === 0 ? "updated" : "left unchanged"}, group calls ${group && groupFound.length === 0 ? "updated" : "left unchanged"}`);
  }
  return found.length > 0 ? 1 : 0;
}

(soakOnly ? soakMain() : groupOnly ? groupMain() : b4Only ? b4Main() : b2Only ? b2Main() : main()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
