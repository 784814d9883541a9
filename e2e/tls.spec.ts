import { selfSignedCertificate } from "../test/support/tls.js";
import { expect, test } from "./fixtures.js";
import { connect, expectMediaFlowing, join } from "./helpers.js";

// The node itself serves HTTPS (TLS_CERT, TLS_KEY), as on a LAN without a proxy.
const certificate = selfSignedCertificate();
test.use({ serverEnv: { TLS_CERT: certificate.certPath, TLS_KEY: certificate.keyPath }, ignoreHTTPSErrors: true });

test("a call over HTTPS served by the node: the app and gRPC-Web over HTTP/2, media both ways", async ({ openUser, server }) => {
  expect(server.url).toMatch(/^https:/);
  const alice = await openUser();
  const bob = await openUser();
  // Chromium speaks HTTP/2 to the node (ALPN), for the app and for the signaling calls alike.
  const protocols = await alice.evaluate(() => performance.getEntriesByType("navigation").map((e) => (e as PerformanceResourceTiming).nextHopProtocol));
  expect(protocols).toEqual(["h2"]);
  await join(alice, "alice");
  await join(bob, "bob");
  await expect(alice.getByRole("button", { name: "Call bob" })).toBeVisible();
  await connect(alice, "alice", bob, "bob");
  const rpcProtocols = await alice.evaluate(() =>
    performance
      .getEntriesByType("resource")
      .filter((e) => e.name.includes("/peertobeer.signaling.v1.SignalingService/SendOffer"))
      .map((e) => (e as PerformanceResourceTiming).nextHopProtocol),
  );
  // Every SendOffer went over HTTP/2; a call may send more than one (a renegotiation, a retry).
  expect(rpcProtocols.length).toBeGreaterThan(0);
  expect(new Set(rpcProtocols)).toEqual(new Set(["h2"]));
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  await bob.getByRole("button", { name: "Hang up" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
});
