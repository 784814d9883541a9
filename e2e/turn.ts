import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts } from "../test/support/ports.js";

export interface TurnServer {
  port: number;
  secret: string;
  stop(): Promise<void>;
}

/**
 * A real coturn (Debian's `coturn`, binary turnserver) on 127.0.0.1 with TURN REST API
 * credentials, as deploy/coturn/turnserver.conf configures it; relaying between loopback
 * peers is allowed because both browsers run on this machine.
 */
export async function startTurn(): Promise<TurnServer> {
  const [port] = await freePorts(1);
  const secret = randomBytes(16).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "p2b-turn-"));
  const child: ChildProcess = spawn(
    "turnserver",
    [
      "-n",
      "--listening-ip=127.0.0.1",
      "--relay-ip=127.0.0.1",
      `--listening-port=${port}`,
      "--use-auth-secret",
      `--static-auth-secret=${secret}`,
      "--realm=peertobeer.test",
      "--allow-loopback-peers",
      "--no-tls",
      "--no-dtls",
      "--no-cli",
      `--pidfile=${join(dir, "turnserver.pid")}`,
      `--userdb=${join(dir, "turndb")}`,
      "--log-file=stdout",
      "--simple-log",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let errors = "";
  child.stderr?.on("data", (chunk: Buffer) => (errors += chunk.toString()));
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`turnserver exited with ${code} before it was up: ${errors}`)));
    lines.on("line", (line) => {
      if (line.includes("Total General servers")) resolve();
    });
  });
  return {
    port: port ?? 0,
    secret,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
