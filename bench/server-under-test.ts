/**
 * The Peer-to-Beer server exactly as production starts it (loadConfig + startServer, the same
 * calls as server/src/main.ts), plus an IPC hook the orchestrator uses to read its CPU time and
 * heap. Started by bench/run.ts with --expose-gc; never run by hand.
 */
import { pino } from "pino";
import { loadConfig } from "../server/src/config.js";
import { startServer } from "../server/src/server.js";
import { drainOnSignals } from "../server/src/signals.js";
import { serve } from "./lib/ipc.js";
import { readStats, type TargetInfo, type TargetMethods } from "./targets/introspect.js";

const config = loadConfig(process.env);
const logger = pino({ level: config.logLevel });
const server = await startServer(config, logger);

const info: TargetInfo = { system: "ours", webPort: server.webPort, grpcPort: server.grpcPort };
// In cluster mode (REDIS_URL) there is no in-memory hub: sessions are the streams this node
// holds, and the events kept for a resume live in Redis (the orchestrator reads Redis itself).
const { hub, backend } = server;
serve<TargetMethods>(
  { stats: ({ gc }) => readStats(gc, () => hub?.sessionCount ?? backend.localSessionCount, () => hub?.keptEventCount ?? 0) },
  info,
);
// As in production: SIGTERM drains, then the process exits 0 (the drain benchmark times it).
drainOnSignals(server, logger);
