import { startRedis, type RedisServer } from "../test/support/redis.js";
import { startCluster, type ClusterDeployment } from "./cluster-deployment.js";
import { test } from "./fixtures.js";
import { FULL_CALL_SCENARIO, GROUP_SCENARIOS, type GroupScenario } from "./group-scenarios.js";

/* The group-call scenarios of group.spec.ts, every page through nginx over three cluster nodes. */

let redis: RedisServer;
let cluster: ClusterDeployment | undefined;
let deployments = 0;

test.beforeAll(async () => {
  redis = await startRedis();
});

test.afterAll(async () => {
  await redis?.stop();
});

test.afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

function throughTheBalancer(scenario: GroupScenario, env: Record<string, string> = {}): void {
  test(`through nginx over three nodes: ${scenario.title}`, async ({ openUser }) => {
    cluster = await startCluster(redis.url, `e2e-group-${++deployments}`, env);
    await scenario.run(openUser, cluster.nginx.url);
  });
}

for (const scenario of GROUP_SCENARIOS) throughTheBalancer(scenario);
throughTheBalancer(FULL_CALL_SCENARIO, { MAX_CALL_PARTICIPANTS: "3" });
