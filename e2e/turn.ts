import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { freePorts } from "../test/support/ports.js";

export interface TurnServer {
  /** TURN over UDP and TCP (unless started with `udp: false`: TCP only). */
  port: number;
  /** TURN over TLS (`turns:`), when started with `tls: true`. */
  tlsPort: number | undefined;
  /**
   * base64 SHA-256 of the TLS certificate's public key, for Chromium's
   * --ignore-certificate-errors-spki-list (the certificate is self-signed).
   */
  tlsSpki: string | undefined;
  secret: string;
  stop(): Promise<void>;
}

export interface TurnOptions {
  /** Listen for TURN over UDP; false leaves only TCP (and TLS), as behind a firewall that drops UDP. */
  udp?: boolean;
  /** Also listen for TURN over TLS with a self-signed certificate for 127.0.0.1 made here. */
  tls?: boolean;
  /**
   * Relay to peers on 127.0.0.1 (both browsers here). false: allocations succeed but coturn
   * forwards nothing between them, as for a relay that cannot reach the other side.
   */
  loopbackPeers?: boolean;
}

/**
 * A real coturn (Debian's `coturn`, binary turnserver) on 127.0.0.1 with TURN REST API
 * credentials, as deploy/coturn/turnserver.conf configures it; relaying between loopback
 * peers is allowed because both browsers run on this machine.
 */
export async function startTurn(options: TurnOptions = {}): Promise<TurnServer> {
  const [port, tlsPort] = await freePorts(2);
  const secret = randomBytes(16).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "p2b-turn-"));
  const tls = options.tls ? selfSignedCertificate(dir) : undefined;
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
      ...(options.loopbackPeers === false ? ["--denied-peer-ip=127.0.0.1"] : []),
      ...(tls ? [`--tls-listening-port=${tlsPort}`, `--cert=${tls.cert}`, `--pkey=${tls.key}`] : ["--no-tls"]),
      ...(options.udp === false ? ["--no-udp"] : []),
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
    tlsPort: tls ? tlsPort : undefined,
    tlsSpki: tls?.spki,
    secret,
    async stop() {
      // Idempotent: a test may stop it early (a TURN server dying mid-call).
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway certificate for 127.0.0.1 (openssl), and the hash Chromium pins it by. */
function selfSignedCertificate(dir: string): { cert: string; key: string; spki: string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  const made = spawnSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl could not make a certificate: ${made.stderr}`);
  const publicKey = new X509Certificate(readFileSync(cert)).publicKey.export({ type: "spki", format: "der" });
  return { cert, key, spki: createHash("sha256").update(publicKey).digest("base64") };
}
