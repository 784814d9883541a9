import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts } from "./ports.js";

export interface RedisServer {
  url: string;
  port: number;
  /** Stops the server for now (SIGTERM: it saves its append-only file first). */
  pause(): Promise<void>;
  /** Starts it again on the same port, with the data it had. */
  resume(): Promise<void>;
  /** Stops it for good and removes its files. */
  stop(): Promise<void>;
}

/**
 * A real redis-server (Debian's `redis-server`) on 127.0.0.1 and a free port, with an
 * append-only file as a production Redis for cluster mode has (a restart keeps the state);
 * resolves once it accepts connections.
 */
export async function startRedis(): Promise<RedisServer> {
  const [port = 0] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), "p2b-redis-"));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    const server = spawn(
      "redis-server",
      ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "yes", "--dir", dir, "--protected-mode", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = server;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("exit", (code) => reject(new Error(`redis-server exited with ${code} before it was up: ${output}`)));
      createInterface({ input: server.stdout! }).on("line", (line) => {
        output += `${line}\n`;
        if (line.includes("Ready to accept connections")) resolve();
      });
    });
  }

  async function stop(): Promise<void> {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGTERM");
    await exited;
  }

  await start();
  const killOnExit = () => child?.kill("SIGKILL");
  process.on("exit", killOnExit);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pause: stop,
    resume: start,
    stop: async () => {
      await stop();
      process.off("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
