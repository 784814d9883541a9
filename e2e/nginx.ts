import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "../test/support/ports.js";

const LOCATIONS = fileURLToPath(new URL("../deploy/nginx/peertobeer-locations.conf", import.meta.url));

export interface Nginx {
  url: string;
  stop(): Promise<void>;
}

/** GET /healthz through nginx answers 200 (nginx listens and reaches the node). */
function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    get(`${url}/healthz`, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on("error", () => resolve(false));
  });
}

/**
 * A real nginx (Debian's) on 127.0.0.1 in front of the nodes' web ports, with the locations we
 * ship in deploy/nginx/peertobeer-locations.conf (plain HTTP: loopback is a secure context).
 * Several ports make the upstream of deploy/nginx/peertobeer-cluster.conf: round-robin, no
 * stickiness, a node that refuses connections skipped.
 */
export async function startNginx(webPorts: number | readonly number[]): Promise<Nginx> {
  const servers = (typeof webPorts === "number" ? [webPorts] : webPorts)
    .map((webPort) => `server 127.0.0.1:${webPort} max_fails=1 fail_timeout=10s;`)
    .join(" ");
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), "p2b-nginx-"));
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${join(dir, "body")};
  proxy_temp_path ${join(dir, "proxy")};
  upstream peertobeer { ${servers} keepalive 16; }
  server {
    listen 127.0.0.1:${port};
    include ${LOCATIONS};
  }
}
`,
  );
  const child = spawn("nginx", ["-c", conf, "-p", dir], { stdio: ["ignore", "inherit", "inherit"] });
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  // Up when it answers; give up if it exits first (a bad configuration, say).
  for (;;) {
    const state = await Promise.race([healthy(url), exited.then(() => "exited" as const)]);
    if (state === "exited") throw new Error(`nginx exited before it was up; see ${join(dir, "error.log")}`);
    if (state) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM"); // fast: the browsers still hold their streams open
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
