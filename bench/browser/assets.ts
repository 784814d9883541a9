/**
 * A tiny loopback HTTP server for the pages of the PeerJS baseline and of the floor,
 * and for the peerjs browser bundle. http://127.0.0.1 is a secure context, so getUserMedia works.
 */
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

const require = createRequire(import.meta.url);

/*
 * The pages show what the app's call screen shows, at its size in the default 1280×720
 * viewport: the remote video filling the stage and a 192 px self view (playing the local
 * camera). In headless Chromium every pixel of video is composited in software, so pages that
 * drew less would be measured as faster for a reason that has nothing to do with signaling.
 */
const REMOTE_STYLE = "display:block;width:1232px;height:560px;object-fit:cover;background:#000";
const SELF_STYLE = "position:absolute;right:40px;bottom:40px;width:192px;height:108px;object-fit:cover;transform:scaleX(-1)";
const stage = (remote: string, self: string) =>
  `<div style="position:relative;width:1232px;height:560px;margin:8px 0">` +
  `<video aria-label="${remote}" autoplay playsinline style="${REMOTE_STYLE}"></video>` +
  `<video aria-label="${self}" autoplay playsinline muted style="${SELF_STYLE}"></video></div>`;

const PEERJS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>B4 PeerJS</title>
<script src="/peerjs.min.js"></script></head>
<body style="margin:24px">${stage("Remote video", "Local video")}</body></html>`;

/** A floor page: one side of the call, shown as the app shows it (the floor needs no script). */
const FLOOR_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>B4 floor</title></head>
<body style="margin:24px">${stage("Remote video", "Local video")}</body></html>`;

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
