import type { CallView, ChatRoom, ParticipantView } from "@peertobeer/client";
import { Activity, Keyboard, Mic, MicOff, PhoneOff, UserPlus, Video as VideoIcon, VideoOff, type LucideIcon } from "lucide-react";
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { useChat } from "../hooks/useChat.js";
import { useShortcuts } from "../hooks/useShortcuts.js";
import { useSpeaking } from "../hooks/useSpeaking.js";
import { cn } from "../lib/cn.js";
import { listOfNames, type Notice } from "../lib/messages.js";
import { Button } from "./Button.js";
import { CallTimer } from "./CallTimer.js";
import { ChatButton, ChatPanel, ChatPreview, useReturnFocus } from "./ChatPanel.js";
import { NoticeBanner } from "./NoticeBanner.js";
import { presenterOf, ScreenShareButton, ScreenStage } from "./ScreenShare.js";
import { CallSettings } from "./SettingsDialog.js";
import { ShortcutsDialog } from "./ShortcutsDialog.js";
import { ConnectionQuality, StatsPanel } from "./StatsPanel.js";
import { Video } from "./Video.js";

interface CallScreenProps {
  call: CallView;
  localStream: MediaStream | undefined;
  localMedia: { audio: boolean; video: boolean };
  /** The latest arrival, departure or failed invitation in this call, and its number. */
  participantNotice: (Notice & { seq: number }) | undefined;
  /** Who is online, offered when adding someone. */
  onlineUsers: readonly string[];
  onHangUp: () => void;
  onToggleMicrophone: () => void;
  onToggleCamera: () => void;
  onInvite: (userId: string) => void;
  /** The screen we share, if we do. */
  localScreen?: MediaStream | undefined;
  /** A camera or microphone picked in Settings when the call had none. */
  onLocalStream?: (stream: MediaStream) => void;
  /** The call's chat (Phone.chat). */
  chat: ChatRoom;
}

/** How long a notice about someone in the call stays up. */
const NOTICE_MS = 8_000;

/** How the tiles share the stage, from one remote participant to five, at phone width and up. */
function gridClass(tiles: number): string {
  if (tiles <= 1) return "grid-cols-1";
  if (tiles === 2) return "grid-cols-1 sm:grid-cols-2";
  if (tiles <= 4) return "grid-cols-2";
  return "grid-cols-2 lg:grid-cols-3";
}

/** Ringing (either way), media starting, and the call itself: one tile per other person. */
export function CallScreen(props: CallScreenProps) {
  const { call, localStream, localMedia, participantNotice, onHangUp, onToggleMicrophone, onToggleCamera } = props;
  const [adding, setAdding] = useState(false);
  // A notice about someone coming or going is news for a while, not for the rest of the call.
  const [shownNotice, setShownNotice] = useState<number | undefined>();
  useEffect(() => {
    if (!participantNotice) return;
    setShownNotice(participantNotice.seq);
    const timer = setTimeout(() => setShownNotice(undefined), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [participantNotice?.seq]);
  const [showStats, setShowStats] = useState(false);
  const statsId = useId();
  const statsButton = useRef<HTMLButtonElement>(null);
  const incoming = call.phase === "incoming";
  const ringing = incoming || call.phase === "outgoing";
  // People we invited whose phones ring; in a 1:1 call the callee's tile stands in for that.
  const invited = ringing ? [] : call.participants.filter((p) => p.state === "ringing");
  const joined = call.participants.filter((p) => !invited.includes(p));
  const names = listOfNames(joined.map((p) => p.userId));
  // Someone shares a screen: it takes the stage, the tiles (and our camera) line up beside it.
  const presenter = ringing ? undefined : presenterOf(joined);
  const localVideo = <Video stream={localStream} label="Local video" muted mirrored />;
  const chat = useChat(props.chat);
  const chatButton = useRef<HTMLButtonElement>(null);
  useReturnFocus(chat.open, chatButton);
  const [helpOpen, setHelpOpen] = useState(false);
  useShortcuts(!ringing, {
    microphone: onToggleMicrophone,
    camera: onToggleCamera,
    chat: () => chat.setOpen(!chat.open),
    hangUp: onHangUp,
    help: () => setHelpOpen(true),
  });
  const status =
    incoming ? `${call.peer} is calling…`
    : ringing ? `Calling ${call.peer}…`
    : call.phase === "connecting" ? `Connecting to ${names}…`
    : undefined;
  return (
    <section aria-label={`Call with ${names || call.peer}`} className="relative flex min-h-0 flex-1 flex-col gap-3">
      <div
        className={cn(
          "relative flex min-h-[60dvh] flex-1 flex-col overflow-hidden rounded-2xl border border-slate-800 bg-slate-950 p-2 sm:min-h-0",
          chat.open && !ringing && "md:pr-[21rem]",
          presenter && "gap-2 lg:flex-row",
        )}
      >
        {presenter && <ScreenStage presenter={presenter} />}
        <div
          className={cn(
            "grid gap-2",
            presenter
              ? "h-32 shrink-0 auto-cols-[11rem] grid-flow-col overflow-x-auto lg:h-auto lg:w-60 lg:auto-cols-fr lg:auto-rows-[9rem] lg:grid-flow-row lg:overflow-y-auto"
              : cn("flex-1 auto-rows-fr", gridClass(joined.length + invited.length)),
          )}
        >
          {joined.map((participant) => (
            <ParticipantTile key={participant.userId} participant={participant} ringing={ringing} />
          ))}
          {invited.map((participant) => (
            <div
              key={participant.userId}
              className="flex min-h-32 flex-col items-center justify-center gap-2 rounded-xl border border-dashed border-slate-700 bg-slate-900"
            >
              <Avatar userId={participant.userId} />
              <p className="text-sm text-slate-300">Ringing {participant.userId}…</p>
            </div>
          ))}
          {presenter && (
            <div className="relative min-h-32 overflow-hidden rounded-xl border border-slate-700">
              {localVideo}
              <span className="absolute bottom-2 left-2 rounded-full bg-slate-950/80 px-3 py-1 text-sm font-medium">You</span>
            </div>
          )}
        </div>
        {status && (
          <p role="status" className="absolute top-4 left-1/2 -translate-x-1/2 rounded-full bg-slate-950/80 px-4 py-1.5 text-sm">
            {status}
          </p>
        )}
        {props.localScreen && !status && (
          <p
            role="status"
            className="absolute top-4 left-1/2 -translate-x-1/2 rounded-full bg-brand-500/90 px-4 py-1.5 text-sm font-medium whitespace-nowrap text-slate-950"
          >
            You are sharing your screen
          </p>
        )}
        {!presenter && (
          <div
            className={cn(
              "absolute right-4 bottom-4 aspect-video w-28 overflow-hidden rounded-xl border border-slate-700 shadow-lg sm:w-44",
              chat.open && !ringing && "md:right-[21.5rem]",
            )}
          >
            {localVideo}
          </div>
        )}
        {!ringing && <ChatPreview chat={chat} />}
        {chat.open && !ringing && <ChatPanel chat={chat} others={joined.map((p) => p.userId)} onClose={() => chat.setOpen(false)} />}
      </div>
      {participantNotice && shownNotice === participantNotice.seq && <NoticeBanner notice={participantNotice} />}
      {showStats && !ringing && (
        <StatsPanel
          id={statsId}
          userIds={joined.map((p) => p.userId)}
          onClose={() => {
            setShowStats(false);
            statsButton.current?.focus();
          }}
        />
      )}
      {adding && !ringing && (
        <AddPersonForm
          onlineUsers={props.onlineUsers.filter((id) => !call.participants.some((p) => p.userId === id))}
          onInvite={(userId) => {
            props.onInvite(userId);
            setAdding(false);
          }}
          onClose={() => setAdding(false)}
        />
      )}
      {/* An incoming call is answered in its dialog. */}
      {!incoming && (
        <div className="relative flex flex-wrap items-center justify-center gap-3 pb-2">
          {!ringing && (
            <>
              <CallTimer connected={call.phase === "connected"} />
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
              <Button size="icon" variant="ghost" aria-label="Add person" title="Add person" aria-expanded={adding} onClick={() => setAdding(!adding)}>
                <UserPlus aria-hidden />
              </Button>
              <ScreenShareButton sharing={props.localScreen !== undefined} />
              <CallSettings localStream={localStream} onLocalStream={(stream) => props.onLocalStream?.(stream)} />
              <ChatButton chat={chat} ref={chatButton} />
              <Button
                ref={statsButton}
                size="icon"
                variant="ghost"
                aria-label="Call statistics"
                title="Call statistics"
                aria-expanded={showStats}
                aria-controls={showStats ? statsId : undefined}
                onClick={() => setShowStats(!showStats)}
              >
                <Activity aria-hidden />
              </Button>
              <Button
                size="icon"
                variant="ghost"
                className="hidden sm:inline-flex"
                aria-label="Keyboard shortcuts"
                title="Keyboard shortcuts (?)"
                aria-keyshortcuts="Shift+?"
                onClick={() => setHelpOpen(true)}
              >
                <Keyboard aria-hidden />
              </Button>
            </>
          )}
          <Button size="lg" variant="danger" onClick={onHangUp}>
            <PhoneOff className="h-5 w-5" aria-hidden />
            {ringing ? "Cancel" : "Hang up"}
          </Button>
        </div>
      )}
      {helpOpen && <ShortcutsDialog onClose={() => setHelpOpen(false)} />}
    </section>
  );
}

/** One remote participant: their video, name, microphone and camera state; lit while they speak. */
function ParticipantTile({ participant, ringing }: { participant: ParticipantView; ringing: boolean }) {
  const { userId, peerMedia, media } = participant;
  const speaking = useSpeaking(ringing ? undefined : participant.remoteStream);
  const reconnecting = !ringing && participant.state === "connected" && media === "disconnected";
  return (
    <figure
      className={cn(
        "relative min-h-32 overflow-hidden rounded-xl border-2 bg-slate-900 transition-colors",
        speaking && peerMedia.audio ? "border-brand-400" : "border-transparent",
      )}
      data-speaking={speaking && peerMedia.audio ? "true" : undefined}
    >
      <Video stream={participant.remoteStream} label="Remote video" className={cn("absolute inset-0", ringing && "hidden")} />
      {(ringing || !peerMedia.video) && (
        <div className="absolute inset-0 flex flex-col items-center justify-center gap-2">
          <Avatar userId={userId} />
          {!ringing && !peerMedia.video && <div className="text-sm text-slate-400">Camera is off</div>}
        </div>
      )}
      {!ringing && participant.state === "connected" && <ConnectionQuality userId={userId} className="absolute top-2 right-2" />}
      {reconnecting && (
        <p role="status" className="absolute top-2 left-1/2 -translate-x-1/2 rounded-full bg-slate-950/80 px-3 py-1 text-xs">
          Reconnecting to {userId}…
        </p>
      )}
      {!peerMedia.audio && !ringing && (
        <p className="absolute top-2 left-2 flex items-center gap-1.5 rounded-full bg-slate-950/80 px-3 py-1 text-xs">
          <MicOff className="h-3.5 w-3.5" aria-hidden /> {userId} is muted
        </p>
      )}
      <figcaption className="absolute bottom-2 left-2 flex items-center gap-1.5 rounded-full bg-slate-950/80 px-3 py-1 text-sm font-medium">
        {!peerMedia.video && !ringing && <VideoOff className="h-3.5 w-3.5 text-slate-400" aria-label="camera off" />}
        {userId}
      </figcaption>
    </figure>
  );
}

function Avatar({ userId }: { userId: string }) {
  return (
    <div className="flex h-16 w-16 items-center justify-center rounded-full bg-slate-800 text-2xl font-semibold uppercase sm:h-20 sm:w-20 sm:text-3xl" aria-hidden>
      {userId.slice(0, 1)}
    </div>
  );
}

interface AddPersonFormProps {
  onlineUsers: readonly string[];
  onInvite: (userId: string) => void;
  onClose: () => void;
}

/** "Add person": an ID typed (or picked from who is online), and Invite. */
function AddPersonForm({ onlineUsers, onInvite, onClose }: AddPersonFormProps) {
  const [userId, setUserId] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const id = userId.trim();
    if (id !== "") onInvite(id);
  };
  return (
    <form
      onSubmit={submit}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
      className="mx-auto flex w-full max-w-md flex-wrap items-end gap-2 rounded-2xl border border-slate-800 bg-slate-900/80 p-3"
    >
      <label className="min-w-0 flex-1">
        <span className="mb-1 block text-xs font-medium text-slate-400">Person to add</span>
        <input
          value={userId}
          onChange={(e) => setUserId(e.target.value)}
          autoFocus
          autoComplete="off"
          placeholder="their ID"
          className="h-11 w-full rounded-lg border border-slate-700 bg-slate-950 px-3 text-slate-100 outline-none placeholder:text-slate-600 focus:border-brand-500"
        />
      </label>
      <Button type="submit" disabled={userId.trim() === ""}>
        Invite
      </Button>
      {onlineUsers.length > 0 && (
        <ul aria-label="Online now" className="flex w-full flex-wrap gap-2">
          {onlineUsers.slice(0, 8).map((id) => (
            <li key={id}>
              <button
                type="button"
                onClick={() => onInvite(id)}
                aria-label={`Invite ${id}`}
                className="rounded-full bg-slate-800 px-3 py-1 text-xs text-slate-200 hover:bg-slate-700 focus-visible:outline-2 focus-visible:outline-brand-400"
              >
                + {id}
              </button>
            </li>
          ))}
        </ul>
      )}
    </form>
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
