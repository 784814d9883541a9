/**
 * Resume after a cut: users joined through a TCP proxy lose their connections at once (as on
 * a Wi-Fi handover or a restarting load balancer) while events for them keep coming. The
 * proxy holds their reconnections until it is released, so the figure is the resume itself
 * (JoinCall with the old token and last seq, replay of the gap), not the reconnect backoff:
 * from release until the SDK has the whole gap, in order, once.
 */
import { performance } from "node:perf_hooks";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { SignalingClient } from "@peertobeer/client";
import { TcpProxy } from "../../test/support/tcp-proxy.js";
import { startTarget } from "../lib/processes.js";
import { summarize, type LatencySummary } from "../lib/stats.js";

export interface ResumeOptions {
  users: number;
  rounds: number;
  /** Users who come online during each gap: one presence event each for every watcher. */
  joinsPerGap: number;
  log: (line: string) => void;
}

export interface ResumeResult {
  users: number;
  rounds: number;
  eventsPerGap: number;
  /** Release → every gap event received, per user and round, ms. */
  resume: LatencySummary;
  samples: number;
  resumed: number;
  /** Sessions that could not be resumed and were started afresh. */
  freshSessions: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
}

function sdk(port: number, watchPresence: boolean): SignalingClient {
  return new SignalingClient({
    transport: createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }),
    watchPresence,
  });
}

/** Resolves when `predicate` holds, re-checked on every presence event of `client`. */
function whenPresence(client: SignalingClient, predicate: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (predicate()) return resolve();
    const off = client.on("presence", () => {
      if (!predicate()) return;
      off();
      resolve();
    });
  });
}

export async function measureResume(options: ResumeOptions): Promise<ResumeResult> {
  const target = await startTarget("ours-web", { maxSessions: 10_000, cpuProfileDir: undefined });
  const proxy = new TcpProxy(target.info.webPort);
  await proxy.listen();
  const clients: SignalingClient[] = [];
  try {
    const watchers = Array.from({ length: options.users }, () => sdk(proxy.port, true));
    clients.push(...watchers);
    const seen = watchers.map(() => new Set<string>());
    const seqs = watchers.map(() => [] as bigint[]);
    let fresh = 0;
    watchers.forEach((watcher, i) => {
      watcher.on("presence", ({ userId, online }) => {
        if (online) seen[i]?.add(userId);
      });
      watcher.on("sequenced", ({ seq }) => seqs[i]?.push(seq));
      watcher.on("sessionReset", () => (fresh += 1));
    });
    await Promise.all(watchers.map((watcher, i) => watcher.join(`watcher-${i}`)));

    const samples: number[] = [];
    let resumed = 0;
    for (let round = 0; round < options.rounds; round++) {
      const resumedThisRound = watchers.map(
        (watcher) =>
          new Promise<void>((resolve) => {
            const off = watcher.on("joined", (info) => {
              off();
              if (info.resumed) resumed += 1;
              resolve();
            });
          }),
      );
      proxy.cutAndHold();
      const newcomers = Array.from({ length: options.joinsPerGap }, (_, j) => `gap-${round}-${j}`);
      // Directly to the server: these join while every watcher's stream is down.
      for (const id of newcomers) {
        const newcomer = sdk(target.info.webPort, false);
        clients.push(newcomer);
        await newcomer.join(id);
      }
      const released = performance.now();
      proxy.release();
      await Promise.all(
        watchers.map(async (watcher, i) => {
          await whenPresence(watcher, () => newcomers.every((id) => seen[i]?.has(id)));
          samples.push(performance.now() - released);
        }),
      );
      await Promise.all(resumedThisRound);
    }

    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    for (const [i, list] of seqs.entries()) {
      for (let k = 1; k < list.length; k++) {
        const step = (list[k] ?? 0n) - (list[k - 1] ?? 0n);
        if (step === 0n) duplicated += 1;
        else if (step < 0n) outOfOrder += 1;
        else lost += Number(step - 1n);
      }
      const expected = options.rounds * options.joinsPerGap;
      const got = [...(seen[i] ?? [])].filter((id) => id.startsWith("gap-")).length;
      lost += Math.max(0, expected - got);
    }
    const result: ResumeResult = {
      users: options.users,
      rounds: options.rounds,
      eventsPerGap: options.joinsPerGap,
      resume: summarize(samples),
      samples: samples.length,
      resumed,
      freshSessions: fresh,
      lost,
      duplicated,
      outOfOrder,
    };
    options.log(
      `  resume: ${result.samples} resumes, p50 ${result.resume.p50Ms.toFixed(1)} ms, p95 ${result.resume.p95Ms.toFixed(1)} ms, ` +
        `${lost} lost, ${duplicated} duplicated, ${fresh} fresh sessions`,
    );
    return result;
  } finally {
    for (const client of clients) client.leave();
    await proxy.close();
    await target.stop();
  }
}
