import { useId, useRef, useState, type FormEvent } from "react";
import { flushSync } from "react-dom";
import { Beer, ScanFace } from "lucide-react";
import { Button } from "./Button.js";
import { NoticeBanner } from "./NoticeBanner.js";
import { PrecallCheck } from "./PrecallCheck.js";
import type { Notice } from "../lib/messages.js";

interface JoinScreenProps {
  busy: boolean;
  notice: Notice | undefined;
  onJoin: (userId: string) => void;
}

export function JoinScreen({ busy, notice, onJoin }: JoinScreenProps) {
  const [userId, setUserId] = useState("");
  const [checking, setChecking] = useState(false);
  const checkId = useId();
  const checkButton = useRef<HTMLButtonElement>(null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    // The check lets go of the camera and microphone before the app opens them for the call:
    // flushSync unmounts it (and runs its cleanup) now, not after onJoin's getUserMedia.
    flushSync(() => setChecking(false));
    onJoin(userId.trim());
  };
  return (
    <main className="flex min-h-dvh items-center justify-center p-6">
      <div className="w-full max-w-md">
        <div className="mb-8 text-center">
          <div className="mx-auto flex h-16 w-16 items-center justify-center rounded-2xl bg-brand-500 text-slate-950" aria-hidden>
            <Beer className="h-9 w-9" />
          </div>
          <h1 className="mt-3 text-3xl font-semibold tracking-tight">Peer-to-Beer</h1>
          <p className="mt-2 text-slate-400">Face-to-face video calls, straight from browser to browser.</p>
        </div>
        <form onSubmit={submit} className="space-y-4 rounded-2xl border border-slate-800 bg-slate-900/60 p-6 shadow-xl">
          <label className="block">
            <span className="mb-1.5 block text-sm font-medium text-slate-300">Your ID</span>
            <input
              value={userId}
              onChange={(e) => setUserId(e.target.value)}
              autoFocus
              autoComplete="username"
              placeholder="e.g. alice"
              className="h-11 w-full rounded-lg border border-slate-700 bg-slate-950 px-3 text-slate-100 outline-none placeholder:text-slate-600 focus:border-brand-500"
            />
            <span className="mt-1.5 block text-xs text-slate-500">Up to 64 letters, digits, dots, dashes or underscores.</span>
          </label>
          {notice && <NoticeBanner notice={notice} />}
          <Button type="submit" size="lg" className="w-full" disabled={busy}>
            {busy ? "Joining…" : "Join"}
          </Button>
        </form>
        <Button
          ref={checkButton}
          variant="ghost"
          className="mt-4 w-full"
          aria-expanded={checking}
          aria-controls={checking ? checkId : undefined}
          onClick={() => setChecking((open) => !open)}
        >
          <ScanFace className="h-4 w-4" aria-hidden /> Check camera and network
        </Button>
        {checking && (
          <PrecallCheck
            id={checkId}
            onClose={() => {
              setChecking(false);
              checkButton.current?.focus(); // focus would otherwise fall to the page's start
            }}
          />
        )}
      </div>
    </main>
  );
}
