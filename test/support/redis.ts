import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts } from "./ports.js";

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server (SIGTERM, or SIGKILL to lose its data as a crash would). */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port, empty (it keeps no data on disk). */
  restart(): Promise<void>;
}

/**
 * A real redis-server (Debian's `redis-server`) on 127.0.0.1 and a free port, without
 * persistence, as cluster mode's tests need it; resolves once it accepts connections.
 */
export async function startRedis(): Promise<RedisServer> {
  const [port = 0] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), "p2b-redis-"));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const process = spawn(
      "redis-server",
      ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = process;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      process.once("error", reject);
      process.once("exit", (code) => reject(new Error(`redis-server exited with ${code} before it was up: ${output}`)));
      createInterface({ input: process.stdout! }).on("line", (line) => {
        output += `${line}\n`;
        if (line.includes("Ready to accept connections")) resolve();
      });
    });
  }

  async function stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill(signal);
    await exited;
  }

  await start();
  const killOnExit = () => child?.kill("SIGKILL");
  process.on("exit", killOnExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: async (signal) => {
      await stop(signal);
      process.off("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop("SIGKILL");
      await start();
    },
  };
}
