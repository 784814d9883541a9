/**
 * B9's two systems, each able to put people in a call and add one more:
 *
 * - ours: the real app (web/dist on server/src/main.ts) driven through its UI as e2e/group.spec.ts
 *   does: Call and Accept for two people, then "Add person", "Person to add", "Invite" on a
 *   participant's page and Accept in the newcomer's incoming-call dialog.
 * - PeerJS mesh: PeerJS has no group call, so its like-for-like is a mesh built with it: every
 *   page answers every call it gets, and a newcomer calls each participant with peer.call().
 *   Its "Accept" is the moment the newcomer's page starts calling (probe `mark()`).
 *
 * Both show each remote participant as a <figure> captioned with their ID and holding a <video>
 * labelled "Remote video", which the probe (group-probe.ts) watches.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { MediaConnection, Peer } from "peerjs";
import type { Browser, Page } from "playwright-core";
import { startAppServer, type AppServer } from "../../test/support/app-server.js";
import { parseExposition } from "../../test/support/prometheus.js";
import { startTarget, type Target } from "../lib/processes.js";
import { startAssetServer, type AssetServer } from "./assets.js";
import { MEDIA_CONSTRAINTS } from "./common.js";
import { NAME_SHIM } from "./probe.js";
import { installGroupProbe, type GroupProbeWindow } from "./group-probe.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type GroupSystem = "ours" | "peerjsMesh";

export interface Member {
  id: string;
  page: Page;
}

export interface GroupDriver {
  system: GroupSystem;
  /** Opens a page in `browser` for `id` and gets it ready to call (camera open, signed in). */
  open(browser: Browser, id: string, timeoutMs: number): Promise<Page>;
  /** `caller` calls `callee`, who accepts: the callee is the one who joins. Returns once accepted. */
  call(caller: Member, callee: Member, timeoutMs: number): Promise<void>;
  /** `inviter`, in a call with `members`, adds `newcomer`, who accepts. Returns once accepted. */
  add(inviter: Member, newcomer: Member, members: Member[], timeoutMs: number): Promise<void>;
  /** Everyone leaves; returns once every page can call again. `members` in the order they joined. */
  hangUpAll(members: Member[], timeoutMs: number): Promise<void>;
  /** Server-side RPC counts by method (ours: peertobeer_rpcs_total), or undefined. */
  serverRpcs(): Promise<Record<string, number> | undefined>;
  close(): Promise<void>;
}

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext();
  await context.addInitScript(NAME_SHIM);
  await context.addInitScript(installGroupProbe);
  return context.newPage();
}

function waitMedia(page: Page, timeoutMs: number): Promise<void> {
  return page.evaluate((timeoutMs) => (window as unknown as GroupProbeWindow).__b9.waitMedia(1, timeoutMs), timeoutMs);
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

// ---------------------------------------------------------------------------------------------
// Ours

export async function oursDriver(log: (line: string) => void): Promise<GroupDriver> {
  if (!existsSync(`${ROOT}web/dist/index.html`)) {
    log("  B9: web/dist is missing, running npm run build");
    await run("npm", ["run", "build"]);
  }
  const server: AppServer = await startAppServer();
  const lobby = (page: Page) => page.getByRole("textbox", { name: "Recipient ID" });
  return {
    system: "ours",
    async open(browser, id, timeoutMs) {
      const page = await newPage(browser);
      await page.goto(server.url);
      await page.getByRole("textbox", { name: "Your ID" }).fill(id, { timeout: timeoutMs });
      await page.getByRole("button", { name: "Join" }).click({ timeout: timeoutMs });
      await lobby(page).waitFor({ state: "visible", timeout: timeoutMs });
      // The app opens the camera beside joining; a call placed before it is ready would send nothing.
      await waitMedia(page, timeoutMs);
      return page;
    },
    async call(caller, callee, timeoutMs) {
      await lobby(caller.page).fill(callee.id, { timeout: timeoutMs });
      await caller.page.getByRole("button", { name: "Call", exact: true }).click({ timeout: timeoutMs });
      await callee.page
        .getByRole("dialog", { name: `Incoming call from ${caller.id}` })
        .getByRole("button", { name: "Accept" })
        .click({ timeout: timeoutMs });
    },
    async add(inviter, newcomer, _members, timeoutMs) {
      await inviter.page.getByRole("button", { name: "Add person" }).click({ timeout: timeoutMs });
      await inviter.page.getByRole("textbox", { name: "Person to add" }).fill(newcomer.id, { timeout: timeoutMs });
      await inviter.page.getByRole("button", { name: "Invite", exact: true }).click({ timeout: timeoutMs });
      await newcomer.page
        .getByRole("dialog", { name: `Incoming call from ${inviter.id}` })
        .getByRole("button", { name: "Accept" })
        .click({ timeout: timeoutMs });
    },
    async hangUpAll(members, timeoutMs) {
      // The last to join leaves first; the first is left alone and the call ends for them.
      for (const member of members.slice(1).reverse()) {
        await member.page.getByRole("button", { name: "Hang up" }).click({ timeout: timeoutMs });
        await lobby(member.page).waitFor({ state: "visible", timeout: timeoutMs });
      }
      const first = members[0];
      if (first) await lobby(first.page).waitFor({ state: "visible", timeout: timeoutMs });
    },
    async serverRpcs() {
      const response = await fetch(`${server.url}/metrics`);
      const out: Record<string, number> = {};
      for (const [series, value] of parseExposition(await response.text())) {
        const method = /^peertobeer_rpcs_total\{method="(\w+)"/.exec(series)?.[1];
        if (method) out[method] = (out[method] ?? 0) + value;
      }
      return out;
    },
    close: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------
// PeerJS mesh

interface MeshWindow extends GroupProbeWindow {
  Peer: typeof Peer;
  __peer: Peer;
  __local: MediaStream;
  __calls: MediaConnection[];
  __errors: string[];
  __tile(call: MediaConnection): void;
}

interface MeshSetup {
  id: string;
  port: number;
  constraints: MediaStreamConstraints;
  timeoutMs: number;
}

/**
 * In the page: a stage like the app's (a grid of tiles filling 1232×560, a 192 px self view),
 * the camera, the PeerJS connection, and answering every call at once with a tile for it.
 */
async function setUpMeshPeer({ id, port, constraints, timeoutMs }: MeshSetup): Promise<void> {
  const w = window as unknown as MeshWindow;
  w.__errors = [];
  w.__calls = [];
  document.body.innerHTML =
    '<div id="stage" style="position:relative;width:1232px;height:560px;margin:8px 0;display:grid;gap:8px;grid-auto-rows:1fr"></div>' +
    '<video aria-label="Local video" autoplay playsinline muted style="position:absolute;right:40px;bottom:40px;width:192px;height:108px;object-fit:cover;transform:scaleX(-1)"></video>';
  const stage = document.getElementById("stage") as HTMLDivElement;
  w.__local = await navigator.mediaDevices.getUserMedia(constraints);
  const self = document.querySelector<HTMLVideoElement>('video[aria-label="Local video"]');
  if (self) self.srcObject = w.__local;
  w.__tile = (call) => {
    w.__calls.push(call);
    const figure = document.createElement("figure");
    figure.style.cssText = "position:relative;margin:0;min-height:8rem;overflow:hidden;background:#0f172a";
    figure.innerHTML =
      '<video aria-label="Remote video" autoplay playsinline style="position:absolute;inset:0;width:100%;height:100%;object-fit:cover"></video>' +
      `<figcaption style="position:absolute;left:8px;bottom:8px">${call.peer}</figcaption>`;
    stage.append(figure);
    stage.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(stage.childElementCount))}, 1fr)`;
    const video = figure.querySelector("video") as HTMLVideoElement;
    call.on("stream", (stream) => {
      if (video.srcObject !== stream) video.srcObject = stream;
    });
    call.on("error", (error) => w.__errors.push(`call ${call.peer}: ${error.type}: ${error.message}`));
    call.on("close", () => figure.remove());
  };
  const peer = new w.Peer(id, { host: "127.0.0.1", port, path: "/", secure: false, config: { iceServers: [] }, debug: 0 });
  w.__peer = peer;
  peer.on("error", (error) => w.__errors.push(`peer: ${error.type}: ${error.message}`));
  peer.on("call", (call) => {
    w.__tile(call);
    call.answer(w.__local);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`PeerJS did not open within ${timeoutMs} ms: ${w.__errors.join("; ")}`)), timeoutMs);
    peer.on("open", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** In the newcomer's page: "Accept" (the probe's mark), then a call to each participant. */
function joinMesh(ids: string[]): void {
  const w = window as unknown as MeshWindow;
  w.__b9.mark();
  for (const id of ids) w.__tile(w.__peer.call(id, w.__local));
}

/** In any page: closes every call and removes its tile. */
function leaveMesh(): void {
  const w = window as unknown as MeshWindow;
  for (const call of w.__calls) call.close();
  w.__calls = [];
  for (const figure of document.querySelectorAll("#stage figure")) figure.remove();
}

export async function peerjsMeshDriver(): Promise<GroupDriver> {
  const target: Target = await startTarget("peerjs", { maxSessions: 100, cpuProfileDir: undefined });
  let assets: AssetServer | undefined;
  try {
    assets = await startAssetServer();
  } catch (error) {
    await target.stop();
    throw error;
  }
  const port = target.info.webPort;
  if (port === undefined) throw new Error("the PeerJS server did not report its port");
  const url = `${assets.url}/peerjs.html`;
  return {
    system: "peerjsMesh",
    async open(browser, id, timeoutMs) {
      const page = await newPage(browser);
      await page.goto(url);
      await page.evaluate(setUpMeshPeer, { id, port, constraints: MEDIA_CONSTRAINTS, timeoutMs });
      return page;
    },
    async call(caller, callee) {
      await callee.page.evaluate(joinMesh, [caller.id]);
    },
    async add(_inviter, newcomer, members) {
      await newcomer.page.evaluate(
        joinMesh,
        members.map((m) => m.id),
      );
    },
    async hangUpAll(members) {
      // A closed MediaConnection tells the server nothing; both ends close their own.
      await Promise.all(members.map((m) => m.page.evaluate(leaveMesh)));
    },
    serverRpcs: () => Promise.resolve(undefined),
    async close() {
      await assets?.close();
      await target.stop();
    },
  };
}

/** Errors PeerJS reported in a page, for failure messages. */
export function meshErrors(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as Partial<MeshWindow>).__errors ?? []);
}
