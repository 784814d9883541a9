import { Redis } from "ioredis";
import { startRedis, type RedisServer } from "../test/support/redis.js";
import { startCluster, type ClusterDeployment } from "./cluster-deployment.js";
import { expect, test, type TestServer } from "./fixtures.js";
import { connect, expectMediaFlowing, join } from "./helpers.js";
import type { Nginx } from "./nginx.js";

/*
 * Cluster mode in real Chromium: a real redis-server, three nodes (each `npm start`'s server in
 * a process of its own) and a real nginx balancing them round robin, without sticky sessions.
 */

let redis: RedisServer;
let nodes: TestServer[] = [];
let nginx: Nginx | undefined;
let cluster: ClusterDeployment | undefined;
let prefix = "";
let deployments = 0;

test.beforeAll(async () => {
  redis = await startRedis();
});

test.afterAll(async () => {
  await redis?.stop();
});

test.beforeEach(async () => {
  prefix = `e2e-${++deployments}`;
  cluster = await startCluster(redis.url, prefix);
  ({ nodes, nginx } = cluster);
});

test.afterEach(async () => {
  await cluster?.stop();
});

/** The node (by its web port) whose process holds `userId`'s stream, read from Redis. */
async function nodeHolding(userId: string): Promise<string> {
  const client = new Redis(redis.url);
  try {
    const key = `{${prefix}}:`;
    const sessionId = await client.hget(`${key}users`, userId);
    const nodeId = sessionId ? await client.hget(`${key}s:${sessionId}`, "node") : null;
    if (!nodeId) throw new Error(`${userId} has no stream on any node`);
    return nodeId;
  } finally {
    client.disconnect();
  }
}

test("a call between users whose streams are on different nodes: media both ways, and the hang-up arrives", async ({ openUser }) => {
  const alice = await openUser({ url: nodes[0]!.url });
  const bob = await openUser({ url: nodes[1]!.url });
  await join(alice, "alice");
  await join(bob, "bob");
  expect(await nodeHolding("alice")).not.toBe(await nodeHolding("bob"));
  await expect(alice.getByRole("button", { name: "Call bob" })).toBeVisible();
  await connect(alice, "alice", bob, "bob");
  await bob.getByRole("button", { name: "Hang up" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
});

test("a node SIGKILLed mid-call through nginx: media keeps flowing, both come back, and a hang-up still arrives", async ({ openUser }) => {
  const alice = await openUser({ url: nginx!.url });
  const bob = await openUser({ url: nginx!.url });
  await join(alice, "alice");
  await join(bob, "bob");
  await connect(alice, "alice", bob, "bob");

  // Kill the node that holds bob's stream (and alice's too, if round robin put both there).
  const holder = await nodeHolding("bob");
  const victim = nodes.find((node) => node.nodeId === holder);
  expect(victim, "the node holding bob's stream").toBeDefined();
  victim!.process.kill("SIGKILL");

  // Media is peer to peer: it never stopped.
  await expectMediaFlowing(alice);
  await expectMediaFlowing(bob);
  // Both sessions are held by live nodes (bob's resumed elsewhere), and neither page still reconnects.
  for (const userId of ["alice", "bob"]) await expect.poll(() => nodeHolding(userId), { timeout: 20_000 }).not.toBe(holder);
  for (const page of [alice, bob]) await expect(page.getByText("Reconnecting…")).toHaveCount(0);
  await bob.getByRole("button", { name: "Hang up" }).click();
  await expect(alice.getByRole("status").filter({ hasText: "bob hung up." })).toBeVisible();
});
