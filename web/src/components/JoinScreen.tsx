import { useState, type FormEvent } from "react";
import { Beer } from "lucide-react";
import { Button } from "./Button.js";
import { NoticeBanner } from "./NoticeBanner.js";
import type { Notice } from "../lib/messages.js";

interface JoinScreenProps {
  busy: boolean;
  notice: Notice | undefined;
  onJoin: (userId: string) => void;
}

export function JoinScreen({ busy, notice, onJoin }: JoinScreenProps) {
  const [userId, setUserId] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
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
      </div>
    </main>
  );
}
