import { useEffect, useRef } from "react";
import { Phone, PhoneOff } from "lucide-react";
import { listOfNames } from "../lib/messages.js";
import { Button } from "./Button.js";

interface IncomingCallDialogProps {
  /** Who calls, or who invites us into their call. */
  caller: string;
  /** On an invitation into a group call: who else is in it. */
  others: readonly string[];
  onAccept: () => void;
  onDecline: () => void;
}

/** A modal <dialog>: focus moves into it and Escape declines. */
export function IncomingCallDialog({ caller, others, onAccept, onDecline }: IncomingCallDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      aria-label={`Incoming call from ${caller}`}
      onCancel={(e) => {
        e.preventDefault();
        onDecline();
      }}
      className="m-auto w-full max-w-sm rounded-2xl border border-slate-700 bg-slate-900 p-6 text-slate-100 shadow-2xl backdrop:bg-slate-950/80"
    >
      <div className="text-center">
        <div className="mx-auto flex h-16 w-16 animate-pulse items-center justify-center rounded-full bg-brand-500/20 text-brand-400" aria-hidden>
          <Phone className="h-7 w-7" />
        </div>
        <p className="mt-4 text-sm text-slate-400">{others.length > 0 ? "Invites you to a group call" : "Incoming video call"}</p>
        <h2 className="mt-1 text-2xl font-semibold">{caller}</h2>
        {others.length > 0 && <p className="mt-1 text-sm text-slate-300">with {listOfNames(others)}</p>}
      </div>
      <div className="mt-6 grid grid-cols-2 gap-3">
        <Button variant="danger" size="lg" onClick={onDecline}>
          <PhoneOff className="h-5 w-5" aria-hidden />
          Decline
        </Button>
        <Button variant="accept" size="lg" onClick={onAccept} autoFocus>
          <Phone className="h-5 w-5" aria-hidden />
          Accept
        </Button>
      </div>
    </dialog>
  );
}
