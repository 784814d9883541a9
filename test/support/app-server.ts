import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface AppServer {
  url: string;
  grpcPort: number;
  /** The node's id in cluster mode. */
  nodeId: string | undefined;
  process: ChildProcess;
  /** Every line the server has logged so far (pino JSON), for tests of what it reports. */
  logs: string[];
  /** SIGTERM (the server drains), then SIGKILL if it has not exited within 10 s. */
  stop(): Promise<void>;
}

/**
 * Starts `server/src/main.ts` as `npm start` runs it, on free loopback ports without ICE
 * servers unless `env` says otherwise; resolves once it logs that it is up.
 */
export function startAppServer(env: Record<string, string> = {}, timeoutMs = 60_000): Promise<AppServer> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/src/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, HOST: "127.0.0.1", PORT: "0", GRPC_PORT: "0", ICE_SERVERS: "", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    process.off("exit", killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  // Every line is read, so the pipe never fills; only the "up" line matters.
  const lines = createInterface({ input: child.stdout });
  const logs: string[] = [];
  lines.on("line", (line) => logs.push(line));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`server/src/main.ts was not up within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("error", reject);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server/src/main.ts exited with ${code} before it was up`));
    });
    lines.on("line", (line) => {
      if (!line.includes("Peer-to-Beer is up")) return;
      clearTimeout(timer);
      const { web, grpc, tls, node } = JSON.parse(line) as { web: number; grpc: number; tls: boolean; node?: string };
      resolve({ url: `${tls ? "https" : "http"}://127.0.0.1:${web}`, grpcPort: grpc, nodeId: node, process: child, logs, stop });
    });
  });
}
