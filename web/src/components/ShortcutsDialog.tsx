import { Keyboard, X } from "lucide-react";
import { useEffect, useRef } from "react";
import { SHORTCUTS } from "../hooks/useShortcuts.js";
import { Button } from "./Button.js";

/** "?": the call's keyboard shortcuts, in a modal <dialog> (Escape or Close shuts it). */
export function ShortcutsDialog({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby="shortcuts-title"
      onClose={onClose}
      onClick={(e) => {
        if (e.target === e.currentTarget) onClose(); // a click on the backdrop
      }}
      className="m-auto w-[calc(100%-2rem)] max-w-md rounded-2xl border border-slate-700 bg-slate-900 p-0 text-slate-100 shadow-2xl backdrop:bg-slate-950/70"
    >
      <div className="p-6">
        <div className="flex items-center justify-between gap-4">
          <h2 id="shortcuts-title" className="flex items-center gap-2 text-lg font-semibold">
            <Keyboard className="h-5 w-5 text-brand-400" aria-hidden />
            Keyboard shortcuts
          </h2>
          <button
            type="button"
            onClick={onClose}
            aria-label="Close"
            className="flex h-9 w-9 items-center justify-center rounded-full text-slate-400 hover:bg-slate-800 hover:text-slate-100 focus-visible:outline-2 focus-visible:outline-brand-400"
          >
            <X className="h-5 w-5" aria-hidden />
          </button>
        </div>
        <dl className="mt-4 divide-y divide-slate-800">
          {SHORTCUTS.map((shortcut) => (
            <div key={shortcut.action} className="flex items-center justify-between gap-4 py-2.5">
              <dt className="text-sm text-slate-200">{shortcut.description}</dt>
              <dd className="flex shrink-0 items-center gap-1">
                {shortcut.keys.map((key, i) => (
                  <span key={key} className="flex items-center gap-1">
                    {i > 0 && <span className="text-xs text-slate-500" aria-hidden>+</span>}
                    <kbd className="min-w-7 rounded-md border border-slate-600 bg-slate-800 px-2 py-0.5 text-center font-mono text-xs text-slate-100 shadow-[0_2px_0_0] shadow-slate-700">
                      {key}
                    </kbd>
                  </span>
                ))}
              </dd>
            </div>
          ))}
        </dl>
        <p className="mt-4 text-xs text-slate-400">Shortcuts do nothing while you type in a text box.</p>
        <div className="mt-5 flex justify-end">
          <Button variant="ghost" onClick={onClose}>
            Done
          </Button>
        </div>
      </div>
    </dialog>
  );
}
