/**
 * TLS_CERT and TLS_KEY: the web port serves HTTPS with HTTP/2 and HTTP/1.1 on one port. Real
 * gRPC-Web calls go over both, Connect and the plain routes keep working, and the node still
 * shuts down cleanly with clients connected over each.
 */
import * as http2 from "node:http2";
import * as https from "node:https";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EndReason, SignalingService } from "@peertobeer/protocol";
import { selfSignedCertificate, type Certificate } from "../../test/support/tls.js";
import { loadConfig } from "../src/config.js";
import { startServer, type RunningServer } from "../src/server.js";
import { join, nextEvent, SAMPLE_ANSWER, SAMPLE_OFFER, silentLogger, startTestServer, Streams, type SignalingClient } from "./helpers.js";

/** A GET over HTTPS with HTTP/1.1 (`agent: false`: no connection outlives it). */
async function getHttp1(url: string, ca: Buffer): Promise<{ status: number; body: string; version: string }> {
  const request = https.get(url, { ca, agent: false });
  const [response] = (await once(request, "response")) as [import("node:http").IncomingMessage];
  let body = "";
  for await (const chunk of response) body += String(chunk);
  return { status: response.statusCode ?? 0, body, version: response.httpVersion };
}

/** A GET over HTTP/2 on `session`. */
async function getHttp2(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; body: string }> {
  const stream = session.request({ ":path": path });
  const [headers] = (await once(stream, "response")) as [http2.IncomingHttpHeaders];
  let body = "";
  for await (const chunk of stream) body += String(chunk);
  return { status: Number(headers[":status"]), body };
}

describe("the web port over TLS", () => {
  let certificate: Certificate;
  let server: RunningServer;
  let base: string;
  const streams = new Streams();
  const closers: (() => void)[] = [];

  /** gRPC-Web (or Connect) over HTTPS with the given HTTP version, on a connection of its own. */
  function client(protocol: "grpcWeb" | "connect", httpVersion: "1.1" | "2"): SignalingClient {
    const create = protocol === "grpcWeb" ? createGrpcWebTransport : createConnectTransport;
    if (httpVersion === "2") {
      const sessions = new Http2SessionManager(base, undefined, { ca: certificate.cert });
      closers.push(() => sessions.abort());
      return createClient(SignalingService, create({ baseUrl: base, httpVersion, sessionManager: sessions }));
    }
    const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
    closers.push(() => agent.destroy());
    return createClient(SignalingService, create({ baseUrl: base, httpVersion, nodeOptions: { agent } }));
  }

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    const webRoot = mkdtempSync(joinPath(tmpdir(), "p2b-web-"));
    writeFileSync(joinPath(webRoot, "index.html"), "<!doctype html><title>Peer-to-Beer</title>");
    server = await startTestServer({ TLS_CERT: certificate.certPath, TLS_KEY: certificate.keyPath, WEB_ROOT: webRoot });
    base = `https://127.0.0.1:${server.webPort}`;
  });

  afterEach(() => streams.closeAll());

  afterAll(async () => {
    for (const close of closers) close();
    await server?.shutdown();
  });

  it("relays a call between gRPC-Web over HTTP/1.1 and gRPC-Web over HTTP/2", async () => {
    const overHttp1 = client("grpcWeb", "1.1");
    const overHttp2 = client("grpcWeb", "2");
    const alice = await join(overHttp1, streams, "alice");
    const bob = await join(overHttp2, streams, "bob");

    const { callId } = await overHttp1.sendOffer({ toUserId: "bob", sdp: SAMPLE_OFFER }, alice.auth);
    expect((await nextEvent(bob.reader, "offer")).event.value.sdp).toBe(SAMPLE_OFFER);
    await overHttp2.sendAnswer({ callId, sdp: SAMPLE_ANSWER }, bob.auth);
    expect((await nextEvent(alice.reader, "answer")).event.value.sdp).toBe(SAMPLE_ANSWER);
    await overHttp2.endCall({ callId, reason: EndReason.HANGUP }, bob.auth);
    expect((await nextEvent(alice.reader, "callEnded")).event.value.reason).toBe(EndReason.HANGUP);
  });

  it("serves Connect over both HTTP versions", async () => {
    const overHttp1 = client("connect", "1.1");
    const overHttp2 = client("connect", "2");
    const carol = await join(overHttp1, streams, "carol");
    const dave = await join(overHttp2, streams, "dave");
    const { callId } = await overHttp2.sendOffer({ toUserId: "carol", sdp: SAMPLE_OFFER }, dave.auth);
    expect((await nextEvent(carol.reader, "offer")).callId).toBe(callId);
    await overHttp1.endCall({ callId, reason: EndReason.DECLINED }, carol.auth);
    expect((await nextEvent(dave.reader, "callEnded")).event.value.reason).toBe(EndReason.DECLINED);
  });

  it("serves the app, /healthz, /readyz and /metrics over HTTP/1.1 and HTTP/2", async () => {
    for (const path of ["/", "/healthz", "/readyz", "/metrics"]) {
      const response = await getHttp1(`${base}${path}`, certificate.cert);
      expect({ path, status: response.status, version: response.version }).toEqual({ path, status: 200, version: "1.1" });
    }
    expect((await getHttp1(`${base}/some/route`, certificate.cert)).body).toContain("<title>Peer-to-Beer</title>");
    const session = http2.connect(base, { ca: certificate.cert });
    try {
      expect(await getHttp2(session, "/")).toMatchObject({ status: 200, body: expect.stringContaining("Peer-to-Beer") });
      expect(await getHttp2(session, "/healthz")).toEqual({ status: 200, body: "ok\n" });
      expect(await getHttp2(session, "/readyz")).toEqual({ status: 200, body: "ready\n" });
      expect((await getHttp2(session, "/metrics")).body).toContain("peertobeer_sessions ");
    } finally {
      session.close();
    }
  });

  it("refuses plain HTTP on the TLS port", async () => {
    const refused = await fetch(`http://127.0.0.1:${server.webPort}/healthz`).then(
      (response) => response.status,
      () => "refused",
    );
    expect(refused).toBe("refused");
  });
});

describe("TLS at startup and shutdown", () => {
  it("names the file it cannot read", async () => {
    const config = loadConfig({ HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", TLS_CERT: "/nonexistent/cert.pem", TLS_KEY: "/nonexistent/key.pem" });
    await expect(startServer(config, silentLogger)).rejects.toThrow("TLS_CERT /nonexistent/cert.pem cannot be read");
  });

  it("drains and closes with streams and idle connections open over both HTTP versions", async () => {
    const certificate = selfSignedCertificate();
    // A drain deadline far past the test's timeout: only a graceful close lets this pass.
    const server = await startTestServer({ TLS_CERT: certificate.certPath, TLS_KEY: certificate.keyPath, DRAIN_TIMEOUT_MS: "600000" });
    const base = `https://127.0.0.1:${server.webPort}`;
    const agent = new https.Agent({ keepAlive: true, ca: certificate.cert });
    const sessions = new Http2SessionManager(base, undefined, { ca: certificate.cert });
    const streams = new Streams();
    try {
      const overHttp1 = createClient(SignalingService, createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1", nodeOptions: { agent } }));
      const overHttp2 = createClient(SignalingService, createGrpcWebTransport({ baseUrl: base, httpVersion: "2", sessionManager: sessions }));
      const erin = await join(overHttp1, streams, "erin");
      const frank = await join(overHttp2, streams, "frank");
      // A unary call over each: HTTP/1.1 leaves an idle keep-alive connection beside the stream's.
      await overHttp1.sendOffer({ toUserId: "frank", sdp: SAMPLE_OFFER }, erin.auth);
      const { callId } = await nextEvent(frank.reader, "offer");
      await overHttp2.endCall({ callId, reason: EndReason.DECLINED }, frank.auth);
      await nextEvent(erin.reader, "callEnded");
      const stopping = server.shutdown();
      // Each stream is told to reconnect, then ends cleanly.
      for (const user of [erin, frank]) {
        const { messages, error } = await user.reader.rest();
        expect({ user: user.userId, events: messages.map((m) => m.event.case), error }).toEqual({
          user: user.userId,
          events: ["draining"],
          error: undefined,
        });
      }
      await stopping;
    } finally {
      agent.destroy();
      sessions.abort();
      await streams.closeAll();
    }
  }, 20_000);
});
