/**
 * nginx in front of several nodes, with the shipped locations and the upstream of
 * deploy/nginx/peertobeer-cluster.conf: requests are spread round-robin (no stickiness), and a
 * stopped node is skipped without a failed request. (Sessions shared across nodes are cluster
 * mode, issue 14; these RPCs need none.) The shipped cluster file itself passes `nginx -t`.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { ErrorReason, SignalingService } from "@peertobeer/protocol";
import { startNginx, type Nginx } from "../e2e/nginx.js";
import { expectRpcError, SAMPLE_OFFER, startTestServer } from "../server/test/helpers.js";
import { request } from "../server/test/raw-http.js";
import { ICE_SERVERS_RATE } from "../server/src/transport/ice-servers.js";
import type { RunningServer } from "../server/src/server.js";
import { scrapeMetrics, seriesValue } from "./support/prometheus.js";
import { selfSignedCertificate } from "./support/tls.js";

const DEPLOY = fileURLToPath(new URL("../deploy/nginx/", import.meta.url));

/** SendOffer RPCs refused for want of a token that `node` answered. */
async function refusedOffers(node: RunningServer): Promise<number> {
  const scrape = await scrapeMetrics(`http://127.0.0.1:${node.webPort}`);
  return seriesValue(scrape, "peertobeer_rpcs_total", { method: "SendOffer", code: "UNAUTHENTICATED" });
}

describe("nginx in front of several nodes", () => {
  let nodes: RunningServer[];
  let nginx: Nginx;

  beforeAll(async () => {
    nodes = await Promise.all([startTestServer(), startTestServer(), startTestServer()]);
    nginx = await startNginx(nodes.map((node) => node.webPort));
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(nodes.map((node) => node.shutdown()));
  });

  it("spreads RPCs round-robin over the nodes, and skips a node that is gone", async () => {
    const client = createClient(SignalingService, createGrpcWebTransport({ baseUrl: nginx.url, httpVersion: "1.1" }));
    const offer = () => expectRpcError(client.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }), Code.Unauthenticated, ErrorReason.NO_TOKEN);
    // /healthz probes of startNginx went somewhere too; only RPCs are counted.
    for (let i = 0; i < 6; i += 1) await offer();
    expect(await Promise.all(nodes.map(refusedOffers))).toEqual([2, 2, 2]);

    const [gone, ...left] = nodes as [RunningServer, RunningServer, RunningServer];
    await gone.shutdown();
    // Every request still reaches a node: none fails with a 502 on the stopped one.
    for (let i = 0; i < 6; i += 1) await offer();
    expect(await Promise.all(left.map(refusedOffers))).toEqual([5, 5]);
  });
});

describe("GET /ice-servers behind nginx", () => {
  it("is limited by the client address nginx appends, whatever X-Forwarded-For the client sent", async () => {
    const node = await startTestServer({ TURN_URLS: "turn:turn.example.com:3478", TURN_SECRET: "s" });
    const nginx = await startNginx(node.webPort);
    try {
      const port = Number(new URL(nginx.url).port);
      // A client that makes up a new address each time still spends its own (127.0.0.1) budget.
      const spoofed = (i: number) => request(port, "/ice-servers", { headers: { "x-forwarded-for": `198.51.100.${i}` } });
      for (let i = 0; i < ICE_SERVERS_RATE.burst; i += 1) expect((await spoofed(i)).status).toBe(200);
      expect((await spoofed(99)).status).toBe(429);
    } finally {
      await nginx.stop();
      await node.shutdown();
    }
  });
});

describe("deploy/nginx/peertobeer-cluster.conf", () => {
  it("is accepted by nginx -t (with a real certificate and the locations file)", () => {
    const dir = mkdtempSync(join(tmpdir(), "p2b-nginx-t-"));
    const certificate = selfSignedCertificate();
    const site = readFileSync(join(DEPLOY, "peertobeer-cluster.conf"), "utf8")
      .replace(/\/etc\/letsencrypt\/live\/call\.example\.com\/fullchain\.pem/, certificate.certPath)
      .replace(/\/etc\/letsencrypt\/live\/call\.example\.com\/privkey\.pem/, certificate.keyPath)
      .replace("/etc/nginx/peertobeer-locations.conf", join(DEPLOY, "peertobeer-locations.conf"));
    writeFileSync(join(dir, "site.conf"), site);
    const conf = join(dir, "nginx.conf");
    writeFileSync(
      conf,
      `pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events {}
http {
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  include ${join(dir, "site.conf")};
}
`,
    );
    // -t parses and checks everything (certificates included) without binding the ports.
    const output = execFileSync("nginx", ["-t", "-c", conf, "-p", dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    expect(output).toBe("");
  });
});
