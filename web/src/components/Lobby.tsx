import { useState, type FormEvent } from "react";
import { Phone } from "lucide-react";
import { Button } from "./Button.js";
import { Video } from "./Video.js";

interface LobbyProps {
  userId: string;
  /** The camera, previewed while waiting (undefined: none, or not allowed). */
  localStream: MediaStream | undefined;
  onlineUsers: readonly string[];
  onCall: (peer: string) => void;
}

export function Lobby({ userId, localStream, onlineUsers, onCall }: LobbyProps) {
  const [recipient, setRecipient] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    onCall(recipient.trim());
  };
  return (
    <section aria-label="Lobby" className="grid gap-6 md:grid-cols-2">
      <form onSubmit={submit} className="rounded-2xl border border-slate-800 bg-slate-900/60 p-6">
        <h2 className="text-lg font-semibold">Start a call</h2>
        <p className="mt-1 text-sm text-slate-400">
          Others can reach you as <strong className="text-slate-200">{userId}</strong>.
        </p>
        <label className="mt-4 block">
          <span className="mb-1.5 block text-sm font-medium text-slate-300">Recipient ID</span>
          <input
            value={recipient}
            onChange={(e) => setRecipient(e.target.value)}
            placeholder="Who do you want to call?"
            className="h-11 w-full rounded-lg border border-slate-700 bg-slate-950 px-3 outline-none placeholder:text-slate-600 focus:border-brand-500"
          />
        </label>
        <Button type="submit" className="mt-4 w-full" disabled={recipient.trim() === ""}>
          Call
        </Button>
        {localStream && (
          <div className="mt-6 aspect-video overflow-hidden rounded-xl border border-slate-800 bg-slate-950">
            <Video stream={localStream} label="Camera preview" muted mirrored />
          </div>
        )}
      </form>
      <div className="rounded-2xl border border-slate-800 bg-slate-900/60 p-6">
        <h2 className="text-lg font-semibold">Online now</h2>
        {onlineUsers.length === 0 ? (
          <p className="mt-3 text-sm text-slate-400">Nobody else is online yet. Share the link with a friend.</p>
        ) : (
          <ul aria-label="Online users" className="mt-3 divide-y divide-slate-800">
            {onlineUsers.map((id) => (
              <li key={id} className="flex items-center justify-between gap-3 py-2.5">
                <span className="flex min-w-0 items-center gap-2">
                  <span className="h-2 w-2 shrink-0 rounded-full bg-emerald-400" aria-hidden />
                  <span className="truncate">{id}</span>
                </span>
                <Button variant="ghost" aria-label={`Call ${id}`} onClick={() => onCall(id)}>
                  <Phone className="h-4 w-4" aria-hidden /> Call
                </Button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
