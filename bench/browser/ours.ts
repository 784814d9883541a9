/**
 * B4 for Peer-to-Beer: the real app (web/dist, served by server/src/main.ts) in two browser
 * contexts, driven through its UI as a person would: Call, then Accept in the incoming-call
 * dialog, then Hang up.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { startAppServer } from "../../test/support/app-server.js";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import {
  collectPageErrors,
  launchBrowser,
  loop,
  probedPage,
  resetProbe,
  ring,
  twoPageTiming,
  waitFrames,
  waitMedia,
  type CallPlan,
  type Page,
  type SystemRun,
} from "./common.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CALLER = "b4-caller";
const CALLEE = "b4-callee";
const REMOTE = "Remote video";


/** What the app exposes on window (web/src/lib/phone.ts), as far as the bench uses it. */
interface AppWindow {
  peertobeer: { signaling: { on(event: "callEnded", listener: () => void): () => void } };
  __b4CallEnded?: Promise<void>;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
    child.once("error", reject);
    child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}`))));
  });
}

/** The server serves the built app; build it once if it is missing. */
async function ensureBuilt(log: (line: string) => void): Promise<void> {
  if (existsSync(`${ROOT}web/dist/index.html`)) return;
  log("  B4: web/dist is missing, running npm run build");
  await run("npm", ["run", "build"]);
}

async function join(page: Page, userId: string, timeoutMs: number): Promise<void> {
  await page.getByRole("textbox", { name: "Your ID" }).fill(userId, { timeout: timeoutMs });
  await page.getByRole("button", { name: "Join" }).click({ timeout: timeoutMs });
  await page.getByRole("textbox", { name: "Recipient ID" }).waitFor({ state: "visible", timeout: timeoutMs });
  // The app opens the camera beside joining; a call placed before it is ready would send nothing.
  await waitMedia(page, 1, timeoutMs);
}

/**
 * One call: Call → the dialog shows → (the phone rings `ringMs`) → Accept → first frame on
 * both sides → Hang up → both back in the lobby.
 */
async function oneCall(caller: Page, callee: Page, timeoutMs: number, ringMs: number) {
  await Promise.all([resetProbe(caller), resetProbe(callee)]);
  await caller.getByRole("textbox", { name: "Recipient ID" }).fill(CALLEE, { timeout: timeoutMs });
  await caller.getByRole("button", { name: "Call", exact: true }).click({ timeout: timeoutMs });
  const accept = callee.getByRole("dialog", { name: `Incoming call from ${CALLER}` }).getByRole("button", { name: "Accept" });
  if (ringMs > 0) {
    await accept.waitFor({ state: "visible", timeout: timeoutMs });
    await ring(ringMs);
  }
  await accept.click({ timeout: timeoutMs });
  await Promise.all([waitFrames(caller, [REMOTE], timeoutMs), waitFrames(callee, [REMOTE], timeoutMs)]);
  const timing = await twoPageTiming(caller, callee, REMOTE, ringMs, "the Accept click was not seen in the callee's page");

  // Hang up, and wait until the server has ended the call (the callee's stream says so), or the
  // next offer could find the callee still busy.
  await callee.evaluate(() => {
    const w = window as unknown as AppWindow;
    w.__b4CallEnded = new Promise<void>((resolve) => {
      const off = w.peertobeer.signaling.on("callEnded", () => {
        off();
        resolve();
      });
    });
  });
  await caller.getByRole("button", { name: "Hang up" }).click({ timeout: timeoutMs });
  await Promise.all([
    callee.evaluate(
      ({ timeoutMs }) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`the server did not end the call within ${timeoutMs} ms`)), timeoutMs);
          void (window as unknown as AppWindow).__b4CallEnded?.then(() => {
            clearTimeout(timer);
            resolve();
          });
        }),
      { timeoutMs },
    ),
    caller.getByRole("textbox", { name: "Recipient ID" }).waitFor({ state: "visible", timeout: timeoutMs }),
    callee.getByRole("textbox", { name: "Recipient ID" }).waitFor({ state: "visible", timeout: timeoutMs }),
  ]);
  return timing;
}

export async function runOurs(plan: CallPlan): Promise<SystemRun> {
  await ensureBuilt(plan.log);
  const server = await startAppServer();
  let browser: Browser | undefined;
  const pageErrors: string[] = [];
  try {
    browser = await launchBrowser();
    const caller = (await probedPage(browser)).page;
    const callee = (await probedPage(browser)).page;
    collectPageErrors(caller, pageErrors, "caller");
    collectPageErrors(callee, pageErrors, "callee");
    await Promise.all([caller.goto(server.url), callee.goto(server.url)]);
    await join(caller, CALLER, plan.stepTimeoutMs);
    await join(callee, CALLEE, plan.stepTimeoutMs);
    const result = await loop("ours", plan, (ringMs) => oneCall(caller, callee, plan.stepTimeoutMs, ringMs));
    if (result.errors.length > 0 && pageErrors.length > 0) result.errors.push(...pageErrors.slice(0, 5));
    return result;
  } finally {
    await browser?.close();
    await server.stop();
  }
}
