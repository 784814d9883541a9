import { useEffect, useState } from "react";

/** 0:07 → "00:07"; past an hour "1:02:03". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** How long the call has been connected; counts from the first connection, renders only itself. */
export function CallTimer({ connected }: { connected: boolean }) {
  const [start, setStart] = useState<number | undefined>(undefined);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (connected && start === undefined) {
      const at = Date.now();
      setStart(at);
      setNow(at);
    }
  }, [connected, start]);
  useEffect(() => {
    if (start === undefined) return;
    // Ticks on each second boundary since the start, so the display never skips a second.
    let timer: ReturnType<typeof setTimeout>;
    const tick = () => {
      const t = Date.now();
      setNow(t);
      timer = setTimeout(tick, 1000 - ((t - start) % 1000) + 5);
    };
    timer = setTimeout(tick, 1000);
    return () => clearTimeout(timer);
  }, [start]);
  if (start === undefined) return null;
  return (
    <span
      role="timer"
      aria-label="Call duration"
      className="inline-flex h-9 items-center gap-2 rounded-full bg-slate-900 px-3 text-sm font-medium text-slate-200 tabular-nums"
    >
      <span className="h-2 w-2 rounded-full bg-emerald-400" aria-hidden />
      {formatDuration(now - start)}
    </span>
  );
}
