/**
 * One Chromium per participant, and the CPU time of each: the browser process and every process
 * under it (renderers, GPU, network and audio services), read from /proc/<pid>/stat (utime +
 * stime, in clock ticks of 10 ms). Linux only.
 */
import { readdirSync, readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { launchBrowser } from "./common.js";

const TICK_MS = 10;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, ms. */
  cpuMs: number;
  comm: string;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may hold spaces and parentheses: the fields after it start past the last ')'.
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    // fields[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    return { pid, ppid: Number(fields[1]), cpuMs: (Number(fields[11]) + Number(fields[12])) * TICK_MS, comm };
  } catch {
    return undefined; // gone
  }
}

function allStats(): Stat[] {
  const out: Stat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) out.push(stat);
  }
  return out;
}

/** The processes under `root`, `root` included. */
function tree(root: number, stats: Stat[]): Stat[] {
  const children = new Map<number, Stat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const out: Stat[] = [];
  const walk = (pid: number) => {
    const self = stats.find((s) => s.pid === pid);
    if (self) out.push(self);
    for (const child of children.get(pid) ?? []) walk(child.pid);
  };
  walk(root);
  return out;
}

export interface TrackedBrowser {
  browser: Browser;
  /** The browser's main process. */
  pid: number;
}

/**
 * Launches a browser and finds its main process: the chromium child of this process that was
 * not there before. Call one at a time.
 */
export async function launchTracked(): Promise<TrackedBrowser> {
  const before = new Set(allStats().filter((s) => s.ppid === process.pid).map((s) => s.pid));
  const browser = await launchBrowser();
  const fresh = allStats().filter((s) => s.ppid === process.pid && !before.has(s.pid) && /chrom/i.test(s.comm));
  if (fresh.length !== 1 || !fresh[0]) {
    await browser.close();
    throw new Error(`expected one new Chromium process under this one, found ${fresh.length}`);
  }
  return { browser, pid: fresh[0].pid };
}

function kind(pid: number): string {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const type = args.find((a) => a.startsWith("--type="))?.slice("--type=".length);
    if (!type) return "browser";
    const sub = args.find((a) => a.startsWith("--utility-sub-type="))?.split(".").at(-1);
    return type === "utility" && sub ? `utility:${sub}` : type;
  } catch {
    return "gone";
  }
}

/** CPU ms so far of each browser's processes (those alive now) by process type (renderer, gpu-process…), in the order given. */
export function browserCpuMs(browsers: TrackedBrowser[]): Record<string, number>[] {
  const stats = allStats();
  return browsers.map((b) => {
    const out: Record<string, number> = {};
    for (const s of tree(b.pid, stats)) {
      const k = kind(s.pid);
      out[k] = (out[k] ?? 0) + s.cpuMs;
    }
    return out;
  });
}

/** after − before, per type and in total ("total"). */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = { total: 0 };
  for (const [k, v] of Object.entries(after)) {
    const d = Math.max(0, v - (before[k] ?? 0));
    out[k] = d;
    out.total = (out.total ?? 0) + d;
  }
  return out;
}

/** The machine's CPU time so far from /proc/stat's first line, in ticks: busy (user, nice, system, irq, softirq, steal) and all (busy + idle + iowait). */
export function machineTicks(): { busy: number; all: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, all: busy + idle + iowait };
}

/** Busy share of the machine between two readings, % of all its cores, and the busy CPU ms. */
export function machineBusy(before: { busy: number; all: number }, after: { busy: number; all: number }): { percent: number; busyMs: number } {
  const busy = after.busy - before.busy;
  const all = after.all - before.all;
  return { percent: all > 0 ? (busy / all) * 100 : Number.NaN, busyMs: busy * TICK_MS };
}
