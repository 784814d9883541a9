/**
 * Drain with calls up: pairs of SDK users in calls keep signaling (a candidate batch each
 * every few ms) when the server gets SIGTERM. The figures: SIGTERM → exit (and its code), how
 * many RPC attempts failed while it drained (every attempt, the SDK's own retries included,
 * seen by a client interceptor), and how long the users take to be online again once a
 * replacement process is up on the same ports, as under a supervisor (their reconnect
 * schedule, not the server, sets that one).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import type { Interceptor } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { SignalingClient } from "@peertobeer/client";
import { freePorts } from "../../test/support/ports.js";
import { startTarget, type Target } from "../lib/processes.js";
import { summarize, type LatencySummary } from "../lib/stats.js";

export interface DrainOptions {
  pairs: number;
  /** Each user sends a candidate batch this often while online. */
  rpcIntervalMs: number;
  log: (line: string) => void;
}

export interface DrainResult {
  pairs: number;
  drainMs: number;
  exitCode: number | null;
  /** RPCs the users started between SIGTERM and the process's exit. */
  rpcsDuringDrain: number;
  /** Unary RPC attempts that failed between SIGTERM and exit (stream reconnects not counted). */
  failedAttempts: number;
  failureSamples: string[];
  /** Replacement up → each user online again, ms. */
  reconnect: LatencySummary;
}

const CANDIDATE = { candidate: "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host", sdpMid: "0" };

function online(client: SignalingClient): Promise<void> {
  return new Promise((resolve) => {
    if (client.state === "online") return resolve();
    const off = client.on("state", (state) => {
      if (state !== "online") return;
      off();
      resolve();
    });
  });
}

export async function measureDrain(options: DrainOptions): Promise<DrainResult> {
  const [port, grpcPort] = await freePorts(2);
  const env = { PORT: String(port), GRPC_PORT: String(grpcPort) };
  let target: Target = await startTarget("ours-web", { maxSessions: 10_000, cpuProfileDir: undefined, env });
  let draining = false;
  let rpcsDuringDrain = 0;
  const failures: string[] = [];
  const countFailures: Interceptor = (next) => async (request) => {
    try {
      return await next(request);
    } catch (error) {
      // Stream reconnects refused while no node listens are the expected part; unary RPCs must not fail.
      if (draining && request.method.methodKind === "unary") failures.push(`${request.method.name}: ${String(error)}`);
      throw error;
    }
  };
  const clients: SignalingClient[] = [];
  const sdk = () => {
    const client = new SignalingClient({
      transport: createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1", interceptors: [countFailures] }),
    });
    clients.push(client);
    return client;
  };
  let stopTraffic = false;
  try {
    const pairs = Array.from({ length: options.pairs }, () => ({ caller: sdk(), callee: sdk(), callId: "" }));
    await Promise.all(pairs.flatMap((pair, i) => [pair.caller.join(`caller-${i}`), pair.callee.join(`callee-${i}`)]));
    await Promise.all(
      pairs.map(async (pair) => {
        const offered = new Promise<string>((resolve) => {
          const off = pair.callee.on("offer", (offer) => {
            off();
            resolve(offer.callId);
          });
        });
        pair.callId = await pair.caller.sendOffer(pair.callee.user, "v=0 bench-offer");
        await offered;
        await pair.callee.sendAnswer(pair.callId, "v=0 bench-answer");
      }),
    );

    // Signaling keeps going while online (paced, as a client's trickle is); the interceptor sees
    // any attempt that fails. The signal comes once every user's traffic is flowing.
    let flowing = 0;
    let allFlowing: () => void = () => undefined;
    const trafficUp = new Promise<void>((resolve) => (allFlowing = resolve));
    const traffic = pairs.flatMap((pair) =>
      [pair.caller, pair.callee].map(async (client) => {
        let first = true;
        while (!stopTraffic) {
          if (client.state === "online") {
            if (draining) rpcsDuringDrain += 1;
            await client.sendIceCandidates(pair.callId, [CANDIDATE], false).catch(() => undefined);
            if (first && ++flowing === clients.length) allFlowing();
            first = false;
          }
          await delay(options.rpcIntervalMs);
        }
      }),
    );
    await trafficUp;
    const signalled = performance.now();
    draining = true;
    const exitCode = await target.terminate();
    const drainMs = performance.now() - signalled;
    draining = false;

    target = await startTarget("ours-web", { maxSessions: 10_000, cpuProfileDir: undefined, env });
    const up = performance.now();
    const reconnectMs = await Promise.all(clients.map(async (client) => {
      await online(client);
      return performance.now() - up;
    }));
    stopTraffic = true;
    await Promise.all(traffic);
    const result: DrainResult = {
      pairs: options.pairs,
      drainMs,
      exitCode,
      rpcsDuringDrain,
      failedAttempts: failures.length,
      failureSamples: failures.slice(0, 3),
      reconnect: summarize(reconnectMs),
    };
    options.log(
      `  drain: ${options.pairs} calls, SIGTERM → exit ${exitCode} in ${drainMs.toFixed(0)} ms, ` +
        `${rpcsDuringDrain} RPCs during the drain, ${failures.length} failed attempts; ` +
        `back online p95 ${result.reconnect.p95Ms.toFixed(0)} ms`,
    );
    return result;
  } finally {
    stopTraffic = true;
    for (const client of clients) client.leave();
    await target.stop();
  }
}
