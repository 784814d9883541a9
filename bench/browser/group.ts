/**
 * B9: group calls in real Chromium, ours (the app through its UI) against a PeerJS mesh, one
 * Chromium per participant so that each one's CPU can be read apart (browser-cpu.ts).
 *
 * Per measured round, for each system: a 1:1 call (A calls B, B accepts), then C is added, then
 * D (the 4th participant), then everyone hangs up. For each join it takes, from the joiner's
 * Accept (a click in our dialog; the PeerJS newcomer's page starting its calls):
 * - on the joiner's page, the first frame presented by each other participant's "Remote video"
 *   (requestVideoFrameCallback), and the last of them;
 * - on every other participant's page, the joiner's first frame; the last of them;
 * - the signaling the join cost, summed over every open page: each gRPC-Web request through
 *   fetch (count, request and response bytes, JoinCall streams' bytes as they arrive), or for
 *   PeerJS each WebSocket message; ours also from the server's peertobeer_rpcs_total.
 *
 * Then, once per system, steady windows of a 2-, 3-, 4- and (if it fits) 6-person call: each
 * participant's browser CPU over the window (utime + stime of all its processes, /proc), and
 * each sender's outgoing video per connection (getStats outbound-rtp bytesSent, frame size,
 * frames encoded; the sender's encodings[0] maxBitrate and scaleResolutionDownBy) and what each
 * page decodes. The camera is Chromium's fake one, opened with the app's own ask (1280×720).
 */
import type { Browser } from "playwright-core";
import { meshVideoLimit } from "../../packages/client/src/first-frames.js";
import { percentile } from "../lib/stats.js";
import { browserCpuMs, cpuDelta, launchTracked, machineBusy, machineTicks, type TrackedBrowser } from "./browser-cpu.js";
import { errorText } from "./common.js";

/** An error's first line (playwright's carry a stack). */
const errorLine = (error: unknown) => errorText(error).split("\n")[0] ?? "";
import { meshErrors, oursDriver, peerjsMeshDriver, type GroupDriver, type GroupSystem, type Member } from "./group-drivers.js";
import type { GroupProbeWindow, GroupRecord, LinkSample, RpcTally } from "./group-probe.js";

export const GROUP_SYSTEMS: GroupSystem[] = ["ours", "peerjsMesh"];
const IDS = ["alice", "bob", "carol", "dave", "erin", "frank"] as const;

export interface GroupSizes {
  /** Measured rounds (1:1, then 3, then 4 people) per system, after `warmup` unmeasured ones. */
  calls: number;
  warmup: number;
  /** After the last first frame, before the signaling of a join is read (trickled candidates). */
  rpcSettleMs: number;
  /** Steady state: from the last first frame to the start of the window, and the window. */
  settleMs: number;
  windowMs: number;
  /** Whether to try a six-person call's window. */
  six: boolean;
  stepTimeoutMs: number;
}

export const GROUP_FULL: GroupSizes = { calls: 5, warmup: 1, rpcSettleMs: 1_500, settleMs: 8_000, windowMs: 10_000, six: true, stepTimeoutMs: 30_000 };
export const GROUP_SMOKE: GroupSizes = { calls: 1, warmup: 0, rpcSettleMs: 300, settleMs: 500, windowMs: 1_500, six: false, stepTimeoutMs: 30_000 };

export interface JoinTiming {
  /** Participants once joined. */
  size: number;
  joiner: string;
  acceptAt: number;
  /** On the joiner's page: ms after Accept of each other participant's first frame. */
  joinerFrames: Record<string, number>;
  joinerMs: number;
  /** On each other participant's page: ms after Accept of the joiner's first frame. */
  existingFrames: Record<string, number>;
  existingMs: number;
  /** The later of the two: everyone sees everyone. */
  everyoneMs: number;
  /** Size of each first frame on the joiner's page. */
  frameSizes: Record<string, string>;
  /**
   * Where the time goes, ms after Accept, last of the connections the join made: on the
   * joiner's page created, remote description applied, connected; on the others' pages, connected.
   */
  joinerPcs: { count: number; createdMs: number; remoteMs: number; connectedMs: number };
  /** On the others' pages, last of their connections to the joiner: created, connected. */
  existingCreatedMs: number;
  existingConnectedMs: number;
  /** Signaling from the reset before the join to `rpcSettleMs` after its last first frame, all open pages. */
  rpcs: Record<string, RpcTally>;
  rpcTotal: RpcTally;
  /** ours: the server's count of finished RPCs over the same span, by method. */
  serverRpcs: Record<string, number> | null;
}

export interface Round {
  oneToOne: JoinTiming;
  third: JoinTiming;
  fourth: JoinTiming;
}

export interface LinkFigure {
  pc: number;
  kbps: number;
  width: number;
  height: number;
  encodeFps: number;
  decodeFps: number;
  receiveKbps: number;
  maxBitrate: number | null;
  scaleResolutionDownBy: number | null;
  qualityLimitationReason: string;
}

export interface ParticipantWindow {
  id: string;
  /** Browser CPU over the window, % of one core, and ms by process type. */
  cpuPercent: number;
  cpuMsByType: Record<string, number>;
  links: LinkFigure[];
  /** Outgoing video summed over the participant's connections. */
  uplinkKbps: number;
}

export interface SteadyWindow {
  participants: number;
  windowMs: number;
  people: ParticipantWindow[];
  cpuMeanPercent: number;
  uplinkMeanKbps: number;
  uplinkMaxKbps: number;
  /** Over every connection of every page: decoded frames per second, min and median. */
  decodeFpsMin: number;
  decodeFpsMedian: number;
  /** The whole machine's busy CPU over the window, % of all its cores, and the share of it the participants' browsers used. */
  machineBusyPercent: number;
  participantsShareOfBusy: number;
  /** Set when not everyone showed everyone before the window (the machine could not hold the call): why. */
  incomplete?: string;
  /** What the SDK's meshVideoLimit asks for this size (ours; PeerJS sets nothing). */
  limit: { maxHeight: number | null; maxBitrate: number | null };
}

export interface Spread {
  count: number;
  p50Ms: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

export interface GroupSystemResult {
  system: GroupSystem;
  warmup: Round[];
  rounds: Round[];
  errors: string[];
  oneToOne: { everyone: Spread; joiner: Spread };
  third: { everyone: Spread; joiner: Spread; existing: Spread };
  fourth: { everyone: Spread; joiner: Spread; existing: Spread };
  /** Median over the measured rounds of what the 4th join cost (calls, bytes). */
  /** The machine's busy CPU during the measured rounds, % of all cores. */
  roundsMachineBusyPercent: number;
  /** Medians over the rounds of the 4th join's steps (JoinTiming.joinerPcs, existingConnectedMs). */
  fourthSteps: { createdMs: number; remoteMs: number; connectedMs: number; existingCreatedMs: number; existingConnectedMs: number };
  fourthRpcs: { calls: number; requestBytes: number; responseBytes: number; byMethod: Record<string, RpcTally> } | null;
  oneToOneRpcs: { calls: number; requestBytes: number; responseBytes: number } | null;
  windows: SteadyWindow[];
  windowErrors: string[];
}

export interface GroupResult {
  browser: string;
  sizes: GroupSizes;
  systems: Record<GroupSystem, GroupSystemResult>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function spread(samples: number[]): Spread {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

const probe = {
  reset: (m: Member) => m.page.evaluate(() => (window as unknown as GroupProbeWindow).__b9.reset()),
  record: (m: Member) => m.page.evaluate(() => (window as unknown as GroupProbeWindow).__b9.record()),
  uplink: (m: Member) => m.page.evaluate(() => (window as unknown as GroupProbeWindow).__b9.uplink()),
  waitFrames: (m: Member, who: string[], timeoutMs: number) =>
    m.page.evaluate(({ who, timeoutMs }) => (window as unknown as GroupProbeWindow).__b9.waitFrames(who, timeoutMs), { who, timeoutMs }),
};

function addTally(into: Record<string, RpcTally>, from: Record<string, RpcTally>): void {
  for (const [method, t] of Object.entries(from)) {
    const sum = (into[method] ??= { calls: 0, requestBytes: 0, responseBytes: 0 });
    sum.calls += t.calls;
    sum.requestBytes += t.requestBytes;
    sum.responseBytes += t.responseBytes;
  }
}

function total(byMethod: Record<string, RpcTally>): RpcTally {
  const out = { calls: 0, requestBytes: 0, responseBytes: 0 };
  for (const t of Object.values(byMethod)) {
    out.calls += t.calls;
    out.requestBytes += t.requestBytes;
    out.responseBytes += t.responseBytes;
  }
  return out;
}

function serverDelta(before: Record<string, number> | undefined, after: Record<string, number> | undefined): Record<string, number> | null {
  if (!before || !after) return null;
  const out: Record<string, number> = {};
  for (const [method, value] of Object.entries(after)) {
    const d = value - (before[method] ?? 0);
    if (d !== 0) out[method] = d;
  }
  return out;
}

/**
 * One join, measured: resets every open page's probe, lets `join` run (it clicks Accept, or
 * the PeerJS newcomer starts its calls), waits until the joiner shows everyone and everyone
 * shows the joiner, waits `rpcSettleMs`, and reads the records.
 */
async function measureJoin(
  driver: GroupDriver,
  open: Member[],
  inCall: Member[],
  joiner: Member,
  join: () => Promise<void>,
  sizes: GroupSizes,
): Promise<JoinTiming> {
  const t = sizes.stepTimeoutMs;
  const serverBefore = await driver.serverRpcs();
  await Promise.all(open.map(probe.reset));
  await join();
  const others = inCall.filter((m) => m !== joiner);
  try {
    await Promise.all([probe.waitFrames(joiner, others.map((m) => m.id), t), ...others.map((m) => probe.waitFrames(m, [joiner.id], t))]);
  } catch (error) {
    const peerjs = (await Promise.all(inCall.map((m) => meshErrors(m.page)))).flat();
    throw new Error(`${joiner.id} joining ${others.map((m) => m.id).join(", ")}: ${errorLine(error)}${peerjs.length ? ` (${peerjs.join("; ")})` : ""}`);
  }
  await sleep(sizes.rpcSettleMs);
  const records = new Map<Member, GroupRecord>(await Promise.all(open.map(async (m) => [m, await probe.record(m)] as const)));
  const serverAfter = await driver.serverRpcs();
  const mine = records.get(joiner);
  const acceptAt = mine?.accepts[0];
  if (!mine || acceptAt === undefined) throw new Error(`${joiner.id}'s Accept was not seen`);
  const first = (record: GroupRecord | undefined, who: string) => {
    const frames = (record?.frames ?? []).filter((f) => f.who === who);
    return frames.reduce<(typeof frames)[number] | undefined>((best, f) => (!best || f.at < best.at ? f : best), undefined);
  };
  const joinerFrames: Record<string, number> = {};
  const frameSizes: Record<string, string> = {};
  const existingFrames: Record<string, number> = {};
  for (const other of others) {
    const seen = first(mine, other.id);
    joinerFrames[other.id] = seen ? seen.at - acceptAt : Number.NaN;
    frameSizes[other.id] = seen ? `${seen.width}x${seen.height}` : "";
    const theirs = first(records.get(other), joiner.id);
    existingFrames[other.id] = theirs ? theirs.at - acceptAt : Number.NaN;
  }
  const rpcs: Record<string, RpcTally> = {};
  for (const record of records.values()) addTally(rpcs, record.rpcs);
  const last = (values: (number | null)[]) => (values.length && values.every((v) => v !== null) ? Math.max(...(values as number[])) - acceptAt : Number.NaN);
  const joinerPcs = {
    count: mine.pcs.length,
    createdMs: last(mine.pcs.map((p) => p.createdAt)),
    remoteMs: last(mine.pcs.map((p) => p.remoteAt)),
    connectedMs: last(mine.pcs.map((p) => p.connectedAt)),
  };
  const existingCreatedMs = last(others.flatMap((m) => (records.get(m)?.pcs ?? []).map((p) => p.createdAt)));
  const existingConnectedMs = last(others.flatMap((m) => (records.get(m)?.pcs ?? []).map((p) => p.connectedAt)));
  const joinerMs = Math.max(...Object.values(joinerFrames));
  const existingMs = Math.max(...Object.values(existingFrames));
  return {
    size: inCall.length,
    joiner: joiner.id,
    acceptAt,
    joinerFrames,
    joinerMs,
    existingFrames,
    existingMs,
    everyoneMs: Math.max(joinerMs, existingMs),
    frameSizes,
    joinerPcs,
    existingCreatedMs,
    existingConnectedMs,
    rpcs,
    rpcTotal: total(rpcs),
    serverRpcs: serverDelta(serverBefore, serverAfter),
  };
}

async function oneRound(driver: GroupDriver, people: Member[], sizes: GroupSizes): Promise<Round> {
  const [a, b, c, d] = people as [Member, Member, Member, Member];
  const t = sizes.stepTimeoutMs;
  const members: Member[] = [a, b];
  try {
    const oneToOne = await measureJoin(driver, people, [a, b], b, () => driver.call(a, b, t), sizes);
    members.push(c);
    const third = await measureJoin(driver, people, [a, b, c], c, () => driver.add(a, c, [a, b], t), sizes);
    members.push(d);
    const fourth = await measureJoin(driver, people, [a, b, c, d], d, () => driver.add(b, d, [a, b, c], t), sizes);
    return { oneToOne, third, fourth };
  } finally {
    // Returns once the first member is back in the lobby: the server has ended the call.
    await driver.hangUpAll(members, t);
  }
}

/** One steady window over `members`, whose browsers are `browsers` (same order). */
async function steadyWindow(system: GroupSystem, members: Member[], browsers: TrackedBrowser[], windowMs: number): Promise<SteadyWindow> {
  const cpu0 = browserCpuMs(browsers);
  const busy0 = machineTicks();
  const up0 = await Promise.all(members.map(probe.uplink));
  const began = Date.now();
  await sleep(windowMs);
  const up1 = await Promise.all(members.map(probe.uplink));
  const cpu1 = browserCpuMs(browsers);
  const busy = machineBusy(busy0, machineTicks());
  const elapsedMs = Date.now() - began;
  const people: ParticipantWindow[] = members.map((m, i) => {
    const cpu = cpuDelta(cpu0[i] ?? {}, cpu1[i] ?? {});
    const before = new Map((up0[i] ?? []).map((s) => [s.pc, s]));
    const links: LinkFigure[] = [];
    for (const after of up1[i] ?? []) {
      const start: LinkSample | undefined = before.get(after.pc);
      if (!start) continue;
      const seconds = (after.at - start.at) / 1000;
      links.push({
        pc: after.pc,
        kbps: ((after.bytesSent - start.bytesSent) * 8) / 1000 / seconds,
        width: after.frameWidth,
        height: after.frameHeight,
        encodeFps: (after.framesEncoded - start.framesEncoded) / seconds,
        decodeFps: (after.framesDecoded - start.framesDecoded) / seconds,
        receiveKbps: ((after.bytesReceived - start.bytesReceived) * 8) / 1000 / seconds,
        maxBitrate: after.maxBitrate,
        scaleResolutionDownBy: after.scaleResolutionDownBy,
        qualityLimitationReason: after.qualityLimitationReason,
      });
    }
    return {
      id: m.id,
      cpuPercent: ((cpu.total ?? 0) / elapsedMs) * 100,
      cpuMsByType: cpu,
      links,
      uplinkKbps: links.reduce((sum, l) => sum + l.kbps, 0),
    };
  });
  const decode = people.flatMap((p) => p.links.map((l) => l.decodeFps)).sort((x, y) => x - y);
  const limit = meshVideoLimit(members.length);
  const browsersMs = people.reduce((sum, p) => sum + (p.cpuMsByType.total ?? 0), 0);
  return {
    participants: members.length,
    windowMs: elapsedMs,
    people,
    cpuMeanPercent: people.reduce((sum, p) => sum + p.cpuPercent, 0) / people.length,
    uplinkMeanKbps: people.reduce((sum, p) => sum + p.uplinkKbps, 0) / people.length,
    uplinkMaxKbps: Math.max(...people.map((p) => p.uplinkKbps)),
    decodeFpsMin: decode[0] ?? Number.NaN,
    decodeFpsMedian: percentile(decode, 50),
    machineBusyPercent: busy.percent,
    participantsShareOfBusy: browsersMs / busy.busyMs,
    limit:
      system === "ours"
        ? { maxHeight: Number.isFinite(limit.maxHeight) ? limit.maxHeight : null, maxBitrate: limit.maxBitrate ?? null }
        : { maxHeight: null, maxBitrate: null },
  };
}

/** The steady windows: 2, 3 and 4 people, then 6 if asked (two more browsers for it). */
async function steadyWindows(
  driver: GroupDriver,
  people: Member[],
  tracked: TrackedBrowser[],
  sizes: GroupSizes,
  log: (line: string) => void,
  errors: string[],
): Promise<SteadyWindow[]> {
  const t = sizes.stepTimeoutMs;
  const windows: SteadyWindow[] = [];
  const [a, b, c, d] = people as [Member, Member, Member, Member];
  const members: Member[] = [];
  const browsers: TrackedBrowser[] = [];
  const extra: TrackedBrowser[] = [];
  const settleAndMeasure = async () => {
    await sleep(sizes.settleMs);
    const w = await steadyWindow(driver.system, members, browsers, sizes.windowMs);
    windows.push(w);
    log(`  B9 ${driver.system} steady ${w.participants} people: ${describeWindow(w)}`);
  };
  const joined = async (joiner: Member, join: () => Promise<void>) => {
    const others = members.filter((m) => m !== joiner);
    await Promise.all([...members, ...people].map((m) => probe.reset(m)));
    await join();
    await Promise.all([probe.waitFrames(joiner, others.map((m) => m.id), t), ...others.map((m) => probe.waitFrames(m, [joiner.id], t))]);
  };
  try {
    members.push(a, b);
    browsers.push(tracked[0] as TrackedBrowser, tracked[1] as TrackedBrowser);
    await joined(b, () => driver.call(a, b, t));
    await settleAndMeasure();
    members.push(c);
    browsers.push(tracked[2] as TrackedBrowser);
    await joined(c, () => driver.add(a, c, [a, b], t));
    await settleAndMeasure();
    members.push(d);
    browsers.push(tracked[3] as TrackedBrowser);
    await joined(d, () => driver.add(b, d, [a, b, c], t));
    await settleAndMeasure();
    if (sizes.six) {
      // Two more browsers. On two cores six may not hold: if a join does not show everyone in
      // time, the window is still taken (what the senders are set to and do send), marked so.
      let failure: string | undefined;
      try {
        for (const id of [IDS[4], IDS[5]]) {
          const browser = await launchTracked();
          extra.push(browser);
          const member = { id, page: await driver.open(browser.browser, id, t) };
          const inviter = members[members.length % 2] as Member;
          const before = [...members];
          members.push(member);
          browsers.push(browser);
          await joined(member, () => driver.add(inviter, member, before, t));
        }
      } catch (error) {
        failure = `${members.at(-1)?.id ?? "?"} joining: ${errorLine(error)}`;
        log(`  B9 ${driver.system}: ${members.length} people: ${failure}`);
        // A newcomer who never got a connection is not in the call: the window is of the others.
        const newcomer = members.at(-1);
        if (newcomer && (await probe.uplink(newcomer)).length === 0) {
          members.pop();
          browsers.pop();
          failure += `; ${newcomer.id} never connected, so ${members.length} people`;
        }
      }
      if (members.length > 4) {
        await sleep(sizes.settleMs);
        const w = await steadyWindow(driver.system, members, browsers, sizes.windowMs);
        if (failure) w.incomplete = failure;
        windows.push(w);
        log(`  B9 ${driver.system} steady ${w.participants} people${failure ? " (incomplete)" : ""}: ${describeWindow(w)}`);
      }
    }
  } catch (error) {
    errors.push(`steady ${members.length} people: ${errorLine(error)}`);
    log(`  B9 ${driver.system}: steady ${members.length} people failed: ${errorLine(error)}`);
  } finally {
    try {
      await driver.hangUpAll(members, t);
    } catch (error) {
      errors.push(`hang-up after the steady windows: ${errorLine(error)}`);
    }
    for (const browser of extra) await browser.browser.close();
  }
  return windows;
}

function describeWindow(w: SteadyWindow): string {
  const kbps = w.people.map((p) => p.uplinkKbps.toFixed(0)).join("/");
  const sizes = [...new Set(w.people.flatMap((p) => p.links.map((l) => `${l.width}x${l.height}`)))].join(", ");
  return (
    `CPU ${w.cpuMeanPercent.toFixed(0)}% of a core per participant; uplink ${kbps} kbit/s; sent ${sizes}; ` +
    `decoded fps min ${w.decodeFpsMin.toFixed(1)}, median ${w.decodeFpsMedian.toFixed(1)}; machine ${w.machineBusyPercent.toFixed(0)}% busy, ` +
    `${(w.participantsShareOfBusy * 100).toFixed(0)}% of it the participants' browsers`
  );
}

function summarizeSystem(
  system: GroupSystem,
  warmup: Round[],
  rounds: Round[],
  errors: string[],
  windows: SteadyWindow[],
  windowErrors: string[],
  roundsMachineBusyPercent: number,
): GroupSystemResult {
  const of = (pick: (r: Round) => number) => spread(rounds.map(pick));
  const med = (pick: (r: Round) => number) => median(rounds.map(pick));
  const byMethod: Record<string, RpcTally> = {};
  // The by-method tally of the round whose total call count is the median one.
  const sorted = [...rounds].sort((x, y) => x.fourth.rpcTotal.calls - y.fourth.rpcTotal.calls);
  const mid = sorted[Math.floor((sorted.length - 1) / 2)];
  if (mid) addTally(byMethod, mid.fourth.rpcs);
  return {
    system,
    warmup,
    rounds,
    errors,
    oneToOne: { everyone: of((r) => r.oneToOne.everyoneMs), joiner: of((r) => r.oneToOne.joinerMs) },
    third: { everyone: of((r) => r.third.everyoneMs), joiner: of((r) => r.third.joinerMs), existing: of((r) => r.third.existingMs) },
    fourth: { everyone: of((r) => r.fourth.everyoneMs), joiner: of((r) => r.fourth.joinerMs), existing: of((r) => r.fourth.existingMs) },
    roundsMachineBusyPercent,
    fourthSteps: {
      createdMs: med((r) => r.fourth.joinerPcs.createdMs),
      remoteMs: med((r) => r.fourth.joinerPcs.remoteMs),
      connectedMs: med((r) => r.fourth.joinerPcs.connectedMs),
      existingCreatedMs: med((r) => r.fourth.existingCreatedMs),
      existingConnectedMs: med((r) => r.fourth.existingConnectedMs),
    },
    fourthRpcs: rounds.length
      ? {
          calls: med((r) => r.fourth.rpcTotal.calls),
          requestBytes: med((r) => r.fourth.rpcTotal.requestBytes),
          responseBytes: med((r) => r.fourth.rpcTotal.responseBytes),
          byMethod,
        }
      : null,
    oneToOneRpcs: rounds.length
      ? {
          calls: med((r) => r.oneToOne.rpcTotal.calls),
          requestBytes: med((r) => r.oneToOne.rpcTotal.requestBytes),
          responseBytes: med((r) => r.oneToOne.rpcTotal.responseBytes),
        }
      : null,
    windows,
    windowErrors,
  };
}

async function runSystem(system: GroupSystem, sizes: GroupSizes, log: (line: string) => void): Promise<GroupSystemResult> {
  const tracked: TrackedBrowser[] = [];
  const warmup: Round[] = [];
  const rounds: Round[] = [];
  const errors: string[] = [];
  const windowErrors: string[] = [];
  let windows: SteadyWindow[] = [];
  let driver: GroupDriver | undefined;
  let busyFrom = machineTicks();
  let roundsMachineBusyPercent = Number.NaN;
  try {
    driver = system === "ours" ? await oursDriver(log) : await peerjsMeshDriver();
    const people: Member[] = [];
    for (const id of IDS.slice(0, 4)) {
      const browser = await launchTracked();
      tracked.push(browser);
      people.push({ id, page: await driver.open(browser.browser, id, sizes.stepTimeoutMs) });
    }
    const totalRounds = sizes.warmup + sizes.calls;
    for (let i = 0; i < totalRounds; i++) {
      if (i === sizes.warmup) busyFrom = machineTicks();
      try {
        const round = await oneRound(driver, people, sizes);
        (i < sizes.warmup ? warmup : rounds).push(round);
        log(
          `  B9 ${system} round ${i + 1}/${totalRounds}${i < sizes.warmup ? " (warm-up)" : ""}: ` +
            `1:1 ${round.oneToOne.everyoneMs.toFixed(0)} ms, 3rd ${round.third.everyoneMs.toFixed(0)} ms, ` +
            `4th joiner ${round.fourth.joinerMs.toFixed(0)} / others ${round.fourth.existingMs.toFixed(0)} ms ` +
            `(joiner's ${round.fourth.joinerPcs.count} connections created ${round.fourth.joinerPcs.createdMs.toFixed(0)}, remote description ${round.fourth.joinerPcs.remoteMs.toFixed(0)}, connected ${round.fourth.joinerPcs.connectedMs.toFixed(0)} ms; ` +
            `the others' created ${round.fourth.existingCreatedMs.toFixed(0)}, connected ${round.fourth.existingConnectedMs.toFixed(0)} ms), ` +
            `4th join ${round.fourth.rpcTotal.calls} requests, ${round.fourth.rpcTotal.requestBytes} B up / ${round.fourth.rpcTotal.responseBytes} B down`,
        );
      } catch (error) {
        errors.push(`round ${i + 1} of ${totalRounds}: ${errorLine(error)}`);
        log(`  B9 ${system}: round ${i + 1} failed: ${errorLine(error)}`);
        break;
      }
    }
    roundsMachineBusyPercent = machineBusy(busyFrom, machineTicks()).percent;
    if (errors.length === 0) windows = await steadyWindows(driver, people, tracked, sizes, log, windowErrors);
  } catch (error) {
    errors.push(`setup failed: ${errorLine(error)}`);
    log(`  B9 ${system}: setup failed: ${errorLine(error)}`);
  } finally {
    for (const b of tracked) await b.browser.close().catch(() => undefined);
    await driver?.close();
  }
  return summarizeSystem(system, warmup, rounds, errors, windows, windowErrors, roundsMachineBusyPercent);
}

export async function measureGroupCalls(options: { sizes: GroupSizes; log: (line: string) => void }): Promise<GroupResult> {
  const first = await launchTracked();
  const browserName = `Chromium ${(first.browser as Browser).version()}`;
  await first.browser.close();
  const systems = {} as Record<GroupSystem, GroupSystemResult>;
  for (const system of GROUP_SYSTEMS) {
    systems[system] = await runSystem(system, options.sizes, options.log);
    const s = systems[system];
    options.log(
      `  B9 ${system}: 4-person join, everyone p50 ${s.fourth.everyone.p50Ms.toFixed(0)} ms (joiner ${s.fourth.joiner.p50Ms.toFixed(0)}, others ${s.fourth.existing.p50Ms.toFixed(0)}); ` +
        `1:1 p50 ${s.oneToOne.everyone.p50Ms.toFixed(0)} ms over ${s.rounds.length} rounds`,
    );
  }
  return { browser: browserName, sizes: options.sizes, systems };
}
