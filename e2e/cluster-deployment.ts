import { startServer, stopServer, type TestServer } from "./fixtures.js";
import { startNginx, type Nginx } from "./nginx.js";

/** Three cluster nodes (each `npm start`'s server in a process of its own) on one Redis, behind nginx round robin without sticky sessions. */
export interface ClusterDeployment {
  nodes: TestServer[];
  nginx: Nginx;
  stop(): Promise<void>;
}

export async function startCluster(redisUrl: string, prefix: string, env: Record<string, string> = {}): Promise<ClusterDeployment> {
  const nodeEnv = { REDIS_URL: redisUrl, REDIS_PREFIX: prefix, TOKEN_SECRET: "e2e-cluster-secret", HEARTBEAT_MS: "2000", ...env };
  const nodes = await Promise.all([startServer(nodeEnv), startServer(nodeEnv), startServer(nodeEnv)]);
  const nginx = await startNginx(nodes.map((node) => Number(new URL(node.url).port)));
  return {
    nodes,
    nginx,
    async stop() {
      await nginx.stop();
      await Promise.all(nodes.map(stopServer));
    },
  };
}
