import type { Notice } from "../lib/messages.js";
import { cn } from "../lib/cn.js";

/** Visible text for every outcome the user should know about; announced by screen readers. */
export function NoticeBanner({ notice, onDismiss }: { notice: Notice; onDismiss?: () => void }) {
  return (
    <div
      role={notice.tone}
      className={cn(
        "flex items-start justify-between gap-4 rounded-xl border px-4 py-3 text-sm",
        notice.tone === "alert" ? "border-rose-500/40 bg-rose-500/10 text-rose-100" : "border-sky-500/40 bg-sky-500/10 text-sky-100",
      )}
    >
      <span>{notice.text}</span>
      {onDismiss && (
        <button type="button" onClick={onDismiss} className="text-slate-400 hover:text-slate-100" aria-label="Dismiss">
          ✕
        </button>
      )}
    </div>
  );
}
