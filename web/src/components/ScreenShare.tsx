import type { ParticipantView } from "@peertobeer/client";
import { MonitorUp, MonitorX } from "lucide-react";
import { useState } from "react";
import { canShareScreen, openScreen } from "../lib/media.js";
import { phone } from "../lib/phone.js";
import { Button } from "./Button.js";
import { Video } from "./Video.js";

/**
 * "Share screen" / "Stop sharing". The browser asks which screen, window or tab; a user who
 * cancels that picker gets no error. Hidden where the browser cannot share (phones).
 */
export function ScreenShareButton({ sharing }: { sharing: boolean }) {
  const [problem, setProblem] = useState<string>();
  if (!canShareScreen()) return null;
  const toggle = async () => {
    setProblem(undefined);
    if (sharing) return phone.stopScreenShare();
    try {
      phone.startScreenShare(await openScreen());
    } catch (error) {
      const cancelled = error instanceof DOMException && error.name === "NotAllowedError";
      if (!cancelled) setProblem("Could not share the screen.");
    }
  };
  const label = sharing ? "Stop sharing" : "Share screen";
  const Icon = sharing ? MonitorX : MonitorUp;
  return (
    <>
      <Button size="icon" variant={sharing ? "toggledOff" : "ghost"} aria-label={label} title={label} aria-pressed={sharing} onClick={() => void toggle()}>
        <Icon aria-hidden />
      </Button>
      {problem && (
        <p role="alert" className="order-last w-full text-center text-sm text-rose-200">
          {problem}
        </p>
      )}
    </>
  );
}

/** The first participant who shares a screen: their screen takes the stage. */
export function presenterOf(participants: readonly ParticipantView[]): ParticipantView | undefined {
  return participants.find((p) => p.screenStream);
}

/** A shared screen, large and whole (letterboxed, never cropped), named after who shares it. */
export function ScreenStage({ presenter }: { presenter: ParticipantView }) {
  return (
    <section
      aria-label={`${presenter.userId}'s screen`}
      className="relative min-h-48 flex-1 overflow-hidden rounded-xl bg-black"
    >
      {/* Muted: a shared screen carries no sound here (the presenter's voice is on their tile). */}
      <Video stream={presenter.screenStream} label="Shared screen" muted className="absolute inset-0 bg-black object-contain" />
      <p className="absolute top-2 left-2 flex items-center gap-1.5 rounded-full bg-slate-950/80 px-3 py-1 text-sm font-medium">
        <MonitorUp className="h-3.5 w-3.5 text-brand-400" aria-hidden /> {presenter.userId}'s screen
      </p>
    </section>
  );
}
