import type { ParticipantStats, QualityAssessment, QualityGrade, QualityLimit, StatsSample } from "@peertobeer/client";
import { X } from "lucide-react";
import { useId, useState, useSyncExternalStore, type KeyboardEvent, type ReactNode } from "react";
import { cn } from "../lib/cn.js";
import { phone } from "../lib/phone.js";

/** How far back the graphs reach, in seconds (what the SDK keeps). */
const WINDOW_S = 60;

/** Every participant's statistics; re-renders once a second, so only the open panel uses it. */
function useCallStats() {
  return useSyncExternalStore(phone.stats.subscribe, phone.stats.getSnapshot);
}

/** One participant's connection grade and its label; a tile re-renders only when they change. */
function useQuality(userId: string): { grade: QualityGrade | undefined; label: string } {
  const grade = useSyncExternalStore(phone.stats.subscribe, () => phone.stats.of(userId)?.quality?.grade);
  const label = useSyncExternalStore(phone.stats.subscribe, () => qualityLabel(phone.stats.of(userId)?.quality));
  return { grade, label };
}

export function formatBitrate(bitsPerSecond: number | undefined): string {
  if (bitsPerSecond === undefined) return "–";
  if (bitsPerSecond >= 1_000_000) return `${(bitsPerSecond / 1_000_000).toFixed(bitsPerSecond >= 10_000_000 ? 0 : 1)} Mbit/s`;
  return `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

const formatMs = (ms: number | undefined) => (ms === undefined ? "–" : `${Math.round(ms)} ms`);
const formatLoss = (loss: number | undefined) => (loss === undefined ? "–" : `${loss < 10 ? loss.toFixed(1) : Math.round(loss)} %`);
const formatFps = (fps: number | undefined) => (fps === undefined ? "–" : `${Math.round(fps)} fps`);
const formatResolution = (r: { width: number; height: number } | undefined) => (r ? `${r.width}×${r.height}` : "–");

const LIMIT_WORDS: Record<QualityLimit, string> = {
  rtt: "slow round trip",
  loss: "packet loss",
  bitrate: "low video bitrate",
  connection: "reconnecting",
};

/** "Connection: fair (packet loss)"; "Connection: measuring…" before the first numbers. */
export function qualityLabel(quality: QualityAssessment | undefined): string {
  if (!quality) return "Connection: measuring…";
  const why = quality.limitedBy.map((limit) => LIMIT_WORDS[limit]).join(", ");
  return `Connection: ${quality.grade}${why ? ` (${why})` : ""}`;
}

const GRADE_COLOR: Record<QualityGrade, string> = {
  good: "text-emerald-400",
  fair: "text-amber-400",
  poor: "text-rose-500",
};

/** Three bars, as many lit as the grade is good. */
function QualityBars({ grade, className }: { grade: QualityGrade | undefined; className?: string }) {
  const lit = grade === "good" ? 3 : grade === "fair" ? 2 : grade === "poor" ? 1 : 0;
  return (
    <svg viewBox="0 0 14 12" className={cn("h-3 w-3.5", grade ? GRADE_COLOR[grade] : "text-slate-500", className)} aria-hidden>
      {[0, 1, 2].map((i) => (
        <rect
          key={i}
          x={i * 5}
          y={8 - i * 4}
          width={4}
          height={4 + i * 4}
          rx={1}
          fill="currentColor"
          opacity={i < lit ? 1 : 0.3}
        />
      ))}
    </svg>
  );
}

/** The network-quality indicator on a participant's tile: "Connection: good". */
export function ConnectionQuality({ userId, className }: { userId: string; className?: string }) {
  const { grade, label } = useQuality(userId);
  return (
    <span
      role="img"
      aria-label={label}
      title={label}
      data-grade={grade}
      className={cn("flex items-center rounded-full bg-slate-950/80 px-2 py-1.5", className)}
    >
      <QualityBars grade={grade} />
    </span>
  );
}

interface StatsPanelProps {
  id?: string;
  /** Whose connections to show, in the call's order. */
  userIds: readonly string[];
  onClose: () => void;
}

/**
 * "Call statistics": for one participant at a time (tabs in a group call), graphs of the last
 * minute's bitrate, round-trip time, packet loss and frame rate, the resolution each way and
 * whether the path is direct or relayed through TURN.
 */
export function StatsPanel({ id, userIds, onClose }: StatsPanelProps) {
  const stats = useCallStats();
  const [chosen, setChosen] = useState<string | undefined>();
  const selected = chosen !== undefined && userIds.includes(chosen) ? chosen : userIds[0];
  const baseId = useId();
  const tabId = (userId: string) => `${baseId}-tab-${userId}`;
  const panelId = `${baseId}-panel`;

  const onTabKey = (event: KeyboardEvent) => {
    const index = userIds.indexOf(selected ?? "");
    const next =
      event.key === "ArrowRight" ? userIds[(index + 1) % userIds.length]
      : event.key === "ArrowLeft" ? userIds[(index - 1 + userIds.length) % userIds.length]
      : event.key === "Home" ? userIds[0]
      : event.key === "End" ? userIds.at(-1)
      : undefined;
    if (next === undefined) return;
    event.preventDefault();
    setChosen(next);
    document.getElementById(tabId(next))?.focus();
  };

  return (
    <section
      id={id}
      aria-label="Call statistics"
      onKeyDown={(e) => e.key === "Escape" && onClose()}
      className="rounded-2xl border border-slate-800 bg-slate-900/80 p-3 sm:p-4"
    >
      <div className="mb-3 flex flex-wrap items-center gap-x-3 gap-y-2">
        <h2 className="text-sm font-semibold sm:text-base">
          Call statistics
          {userIds.length === 1 && <span className="font-normal text-slate-400"> with {userIds[0]}</span>}
        </h2>
        {userIds.length > 1 && (
          <div role="tablist" aria-label="Participants" className="order-3 flex w-full gap-1 overflow-x-auto sm:order-none sm:w-auto">
            {userIds.map((userId) => (
              <button
                key={userId}
                id={tabId(userId)}
                type="button"
                role="tab"
                aria-selected={userId === selected}
                aria-controls={panelId}
                tabIndex={userId === selected ? 0 : -1}
                onClick={() => setChosen(userId)}
                onKeyDown={onTabKey}
                className={cn(
                  "flex shrink-0 items-center gap-1.5 rounded-full px-3 py-1 text-xs font-medium focus-visible:outline-2 focus-visible:outline-brand-400",
                  userId === selected ? "bg-slate-100 text-slate-900" : "bg-slate-800 text-slate-200 hover:bg-slate-700",
                )}
              >
                <QualityBars grade={stats.get(userId)?.quality?.grade} />
                {userId}
              </button>
            ))}
          </div>
        )}
        <button
          type="button"
          onClick={onClose}
          aria-label="Hide statistics"
          title="Hide statistics"
          className="ml-auto rounded-full p-1.5 text-slate-400 hover:bg-slate-800 hover:text-slate-100 focus-visible:outline-2 focus-visible:outline-brand-400"
        >
          <X className="h-5 w-5" aria-hidden />
        </button>
      </div>
      <div
        id={panelId}
        {...(userIds.length > 1 ? { role: "tabpanel", "aria-labelledby": selected ? tabId(selected) : undefined } : {})}
      >
        {selected && <ParticipantStatsView stats={stats.get(selected)} />}
      </div>
    </section>
  );
}

function ParticipantStatsView({ stats }: { stats: ParticipantStats | undefined }) {
  const latest = stats?.latest;
  if (!stats || !latest) {
    return (
      <p role="status" className="text-sm text-slate-400">
        Measuring…
      </p>
    );
  }
  const samples = stats.samples;
  const series = (pick: (s: StatsSample) => number | undefined) => samples.map((s) => ({ at: s.at, value: pick(s) }));
  const relayed = latest.path === "relayed";
  return (
    <div className="space-y-3">
      <dl className="flex flex-wrap gap-2 text-xs sm:text-sm">
        <Fact term="Path">
          <span className={relayed ? "text-amber-300" : "text-emerald-300"}>
            {latest.path === undefined ? "–" : relayed ? "Relayed (TURN)" : "Direct"}
          </span>
          {relayed && latest.relayProtocol && <span className="text-slate-400"> over {latest.relayProtocol.toUpperCase()}</span>}
        </Fact>
        <Fact term="Resolution">
          in {formatResolution(latest.resolutionIn)} · out {formatResolution(latest.resolutionOut)}
        </Fact>
        <Fact term="Quality">
          <span className="inline-flex items-center gap-1.5">
            <QualityBars grade={stats.quality?.grade} />
            {qualityLabel(stats.quality).replace("Connection: ", "")}
          </span>
        </Fact>
      </dl>
      <div className="grid grid-cols-2 gap-2 lg:grid-cols-4">
        <Metric
          title="Bitrate"
          lines={[
            { label: "In", value: formatBitrate(latest.bitrateIn), points: series((s) => s.bitrateIn), color: "text-sky-400" },
            { label: "Out", value: formatBitrate(latest.bitrateOut), points: series((s) => s.bitrateOut), color: "text-brand-400" },
          ]}
          format={formatBitrate}
        />
        <Metric
          title="Round-trip time"
          lines={[{ label: "", value: formatMs(latest.rttMs), points: series((s) => s.rttMs), color: "text-violet-400" }]}
          floor={100}
          format={formatMs}
        />
        <Metric
          title="Packet loss"
          lines={[
            { label: "In", value: formatLoss(latest.lossIn), points: series((s) => s.lossIn), color: "text-sky-400" },
            { label: "Out", value: formatLoss(latest.lossOut), points: series((s) => s.lossOut), color: "text-brand-400" },
          ]}
          floor={5}
          format={formatLoss}
        />
        <Metric
          title="Frame rate"
          lines={[
            { label: "In", value: formatFps(latest.fpsIn), points: series((s) => s.fpsIn), color: "text-sky-400" },
            { label: "Out", value: formatFps(latest.fpsOut), points: series((s) => s.fpsOut), color: "text-brand-400" },
          ]}
          floor={30}
          format={formatFps}
        />
      </div>
      <p className="text-xs text-slate-400">In: what reaches you from them · Out: what you send them.</p>
    </div>
  );
}

function Fact({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="flex items-baseline gap-1.5 rounded-full bg-slate-950/60 px-3 py-1">
      <dt className="text-slate-400">{term}</dt>
      <dd className="font-medium text-slate-100">{children}</dd>
    </div>
  );
}

interface Line {
  /** "In", "Out", or "" for a single line. */
  label: string;
  value: string;
  points: { at: number; value: number | undefined }[];
  /** Tailwind text colour; the graph draws in currentColor. */
  color: string;
}

/** One figure's current values and its graph over the last minute. */
function Metric({ title, lines, floor = 1, format }: { title: string; lines: Line[]; floor?: number; format: (value: number) => string }) {
  const titleId = useId();
  const peak = Math.max(0, ...lines.flatMap((l) => l.points.map((p) => p.value ?? 0)));
  return (
    <div role="group" aria-labelledby={titleId} className="min-w-0 rounded-xl bg-slate-950/60 p-2.5">
      <h3 id={titleId} className="text-xs font-medium text-slate-400">
        {title}
      </h3>
      <dl className="mt-0.5 flex flex-wrap gap-x-3 text-sm tabular-nums">
        {lines.map((line) => (
          <div key={line.label} className="flex items-baseline gap-1">
            {line.label && <dt className={cn("text-xs", line.color)}>{line.label}</dt>}
            <dd className="font-semibold text-slate-100">{line.value}</dd>
          </div>
        ))}
      </dl>
      <Sparkline lines={lines} floor={floor} />
      <div className="flex justify-between gap-2 text-[10px] text-slate-400 tabular-nums">
        <span>{WINDOW_S} s ago</span>
        <span className="truncate">peak {format(peak)}</span>
      </div>
    </div>
  );
}

/**
 * The last minute as lines, newest at the right edge; the vertical scale is the highest value
 * shown (at least `floor`, so a quiet line stays low rather than filling the box with noise).
 */
function Sparkline({ lines, floor }: { lines: Line[]; floor: number }) {
  const newest = Math.max(...lines.flatMap((l) => l.points.map((p) => p.at)));
  const max = Math.max(floor, ...lines.flatMap((l) => l.points.map((p) => p.value ?? 0)));
  const height = 40;
  const x = (at: number) => WINDOW_S - (newest - at) / 1000;
  const y = (value: number) => height - 2 - (value / max) * (height - 4);
  return (
    <svg viewBox={`0 0 ${WINDOW_S} ${height}`} preserveAspectRatio="none" className="mt-1.5 h-10 w-full" aria-hidden>
      <line x1={0} x2={WINDOW_S} y1={height - 1} y2={height - 1} className="stroke-slate-800" strokeWidth={1} vectorEffect="non-scaling-stroke" />
      {lines.map((line) => {
        // A gap (no value) breaks the line.
        const runs: string[][] = [[]];
        for (const p of line.points) {
          if (p.value === undefined) runs.push([]);
          else runs.at(-1)?.push(`${x(p.at).toFixed(2)},${y(p.value).toFixed(2)}`);
        }
        return runs
          .filter((run) => run.length > 0)
          .map((run, i) => (
            <polyline
              key={`${line.label}-${i}`}
              points={run.length === 1 ? `${run[0]} ${run[0]}` : run.join(" ")}
              fill="none"
              stroke="currentColor"
              strokeWidth={1.75}
              strokeLinejoin="round"
              strokeLinecap="round"
              vectorEffect="non-scaling-stroke"
              className={line.color}
            />
          ));
      })}
    </svg>
  );
}
