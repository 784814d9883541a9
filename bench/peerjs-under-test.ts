/**
 * The PeerJS baseline: the `peer` server from npm with its defaults, on 127.0.0.1, plus the
 * same IPC hook as bench/server-under-test.ts. Started by bench/run.ts; never run by hand.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { PeerServer } from "peer";
import { serve } from "./lib/ipc.js";
import { readStats, type TargetInfo, type TargetMethods } from "./targets/introspect.js";

// PeerJS refuses clients beyond concurrent_limit (default 5,000); the bench opens up to
// BENCH_MAX_SESSIONS idle sessions plus the callers, so it raises the limit and nothing else.
const maxSessions = Number(process.env.BENCH_MAX_SESSIONS ?? "20000");

let clients = 0;
const httpServer = await new Promise<Server>((resolve) => {
  const peer = PeerServer({ host: "127.0.0.1", port: 0, concurrent_limit: maxSessions }, resolve);
  peer.on("connection", () => {
    clients += 1;
  });
  peer.on("disconnect", () => {
    clients -= 1;
  });
});

const info: TargetInfo = { system: "peerjs", webPort: (httpServer.address() as AddressInfo).port };
serve<TargetMethods>({ stats: ({ gc }) => readStats(gc, () => clients) }, info);
