import type { CallView } from "@peertobeer/client";
import { Mic, MicOff, PhoneOff, Video as VideoIcon, VideoOff, type LucideIcon } from "lucide-react";
import { Button } from "./Button.js";
import { Video } from "./Video.js";

interface CallScreenProps {
  call: CallView;
  localStream: MediaStream | undefined;
  localMedia: { audio: boolean; video: boolean };
  onHangUp: () => void;
  onToggleMicrophone: () => void;
  onToggleCamera: () => void;
}

/** Ringing (either way), media starting, and the call itself. */
export function CallScreen({ call, localStream, localMedia, onHangUp, onToggleMicrophone, onToggleCamera }: CallScreenProps) {
  const incoming = call.phase === "incoming";
  const ringing = incoming || call.phase === "outgoing";
  const status =
    incoming ? `${call.peer} is calling…`
    : ringing ? `Calling ${call.peer}…`
    : call.phase === "connected" ? (call.media === "disconnected" ? `Reconnecting to ${call.peer}…` : undefined)
    : `Connecting to ${call.peer}…`;
  return (
    <section aria-label={`Call with ${call.peer}`} className="relative flex min-h-0 flex-1 flex-col gap-4">
      <div className="relative flex-1 overflow-hidden rounded-2xl border border-slate-800 bg-slate-900">
        <Video stream={call.remoteStream} label="Remote video" className={ringing ? "hidden" : undefined} />
        {(ringing || !call.peerMedia.video) && (
          <div className="absolute inset-0 flex flex-col items-center justify-center gap-3">
            <div className="flex h-24 w-24 items-center justify-center rounded-full bg-slate-800 text-4xl font-semibold uppercase">
              {call.peer.slice(0, 1)}
            </div>
            <div className="text-xl font-medium">{call.peer}</div>
            {!ringing && !call.peerMedia.video && <div className="text-sm text-slate-400">Camera is off</div>}
          </div>
        )}
        {status && (
          <p role="status" className="absolute top-4 left-1/2 -translate-x-1/2 rounded-full bg-slate-950/80 px-4 py-1.5 text-sm">
            {status}
          </p>
        )}
        {!call.peerMedia.audio && !ringing && (
          <p className="absolute top-4 left-4 flex items-center gap-1.5 rounded-full bg-slate-950/80 px-3 py-1 text-xs">
            <MicOff className="h-3.5 w-3.5" aria-hidden /> {call.peer} is muted
          </p>
        )}
        {!ringing && (
          <p className="absolute bottom-4 left-4 rounded-full bg-slate-950/80 px-3 py-1 text-sm font-medium">{call.peer}</p>
        )}
        <div className="absolute right-4 bottom-4 aspect-video w-32 overflow-hidden rounded-xl border border-slate-700 shadow-lg sm:w-48">
          <Video stream={localStream} label="Local video" muted mirrored />
        </div>
      </div>
      {/* An incoming call is answered in its dialog. */}
      {!incoming && (
        <div className="flex items-center justify-center gap-3 pb-2">
          {!ringing && (
            <>
              <MediaToggle
                on={localMedia.audio}
                labels={["Mute microphone", "Unmute microphone"]}
                icons={[Mic, MicOff]}
                onClick={onToggleMicrophone}
              />
              <MediaToggle
                on={localMedia.video}
                labels={["Turn camera off", "Turn camera on"]}
                icons={[VideoIcon, VideoOff]}
                onClick={onToggleCamera}
              />
            </>
          )}
          <Button size="lg" variant="danger" onClick={onHangUp}>
            <PhoneOff className="h-5 w-5" aria-hidden />
            {ringing ? "Cancel" : "Hang up"}
          </Button>
        </div>
      )}
    </section>
  );
}

interface MediaToggleProps {
  on: boolean;
  /** What clicking does: while on, then while off. */
  labels: [string, string];
  icons: [LucideIcon, LucideIcon];
  onClick: () => void;
}

/** The microphone or camera button: its label says what a click does. */
function MediaToggle({ on, labels, icons, onClick }: MediaToggleProps) {
  const label = on ? labels[0] : labels[1];
  const Icon = on ? icons[0] : icons[1];
  return (
    <Button size="icon" variant={on ? "ghost" : "toggledOff"} aria-label={label} title={label} onClick={onClick}>
      <Icon aria-hidden />
    </Button>
  );
}
