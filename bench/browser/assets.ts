/**
 * A tiny loopback HTTP server for the pages of the PeerJS baseline and of the in-page floor,
 * and for the peerjs browser bundle. http://127.0.0.1 is a secure context, so getUserMedia works.
 */
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

const require = createRequire(import.meta.url);

/** Shown like the app's remote video: autoplaying, with sound, on screen. */
const VIDEO_STYLE = "width:480px;height:270px;background:#000";

const PEERJS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>B4 PeerJS</title>
<script src="/peerjs.min.js"></script></head>
<body><video aria-label="Remote video" autoplay playsinline style="${VIDEO_STYLE}"></video></body></html>`;

const FLOOR_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>B4 floor</title></head>
<body>
<video aria-label="Remote video (caller)" autoplay playsinline style="${VIDEO_STYLE}"></video>
<video aria-label="Remote video (callee)" autoplay playsinline style="${VIDEO_STYLE}"></video>
</body></html>`;

export interface AssetServer {
  url: string;
  close(): Promise<void>;
}

export async function startAssetServer(): Promise<AssetServer> {
  const peerjsBundle = await readFile(require.resolve("peerjs/dist/peerjs.min.js"));
  const routes: Record<string, { type: string; body: string | Buffer }> = {
    "/peerjs.html": { type: "text/html; charset=utf-8", body: PEERJS_PAGE },
    "/floor.html": { type: "text/html; charset=utf-8", body: FLOOR_PAGE },
    "/peerjs.min.js": { type: "text/javascript; charset=utf-8", body: peerjsBundle },
  };
  const server = http.createServer((req, res) => {
    const route = routes[new URL(req.url ?? "/", "http://127.0.0.1").pathname];
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": route.type, "cache-control": "no-store" });
    res.end(route.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
