import type { SignalingError } from "@peertobeer/client";
import { Beer } from "lucide-react";
import { useCallback, useEffect, useState } from "react";
import { CallScreen } from "./components/CallScreen.js";
import { IncomingCallDialog } from "./components/IncomingCallDialog.js";
import { JoinScreen } from "./components/JoinScreen.js";
import { Lobby } from "./components/Lobby.js";
import { NoticeBanner } from "./components/NoticeBanner.js";
import { loadDeviceChoice } from "./lib/devices.js";
import { openLocalMedia, type LocalMedia } from "./lib/media.js";
import { joinErrorText, outcomeNotice, participantNotice, type Notice } from "./lib/messages.js";
import { phone, signaling, usePhone } from "./lib/phone.js";
import { playTone } from "./lib/tones.js";

export function App() {
  const snapshot = usePhone();
  const [media, setMedia] = useState<LocalMedia>({ stream: undefined, problem: undefined });
  const [joinNotice, setJoinNotice] = useState<Notice | undefined>();
  const [joining, setJoining] = useState(false);

  const join = useCallback(async (userId: string) => {
    setJoining(true);
    setJoinNotice(undefined);
    // Camera permission and joining run side by side: neither waits for the other.
    const mediaReady = openLocalMedia(loadDeviceChoice()).then((opened) => {
      phone.setLocalStream(opened.stream);
      setMedia(opened);
    });
    try {
      await signaling.join(userId);
    } catch (error) {
      setJoinNotice({ tone: "alert", text: joinErrorText(error as SignalingError, userId) });
    } finally {
      setJoining(false);
    }
    await mediaReady;
  }, []);

  // A reload of this tab resumes the same ID without asking.
  useEffect(() => {
    const stored = signaling.storedUserId();
    if (stored && signaling.state === "idle") void join(stored);
    return signaling.on("failed", (error) => setJoinNotice({ tone: "alert", text: `Disconnected: ${error.message}` }));
  }, [join]);

  const call = snapshot.call;
  const ringing = call?.phase === "outgoing" ? "ringback" : call?.phase === "incoming" ? "ringtone" : undefined;
  useEffect(() => (ringing ? playTone(ringing) : undefined), [ringing]);

  const joined = snapshot.connection === "online" || snapshot.connection === "reconnecting";
  if (!joined) return <JoinScreen busy={joining} notice={joinNotice} onJoin={(id) => void join(id)} />;

  const outcome = snapshot.lastOutcome ? outcomeNotice(snapshot.lastOutcome) : undefined;
  const inCall = call !== undefined && call.phase !== "incoming";
  return (
    <div className="mx-auto flex min-h-dvh max-w-6xl flex-col gap-4 p-4 sm:p-6">
      <header className="flex items-center justify-between">
        <span className="flex items-center gap-2 text-lg font-semibold">
          <Beer className="h-5 w-5 text-brand-400" aria-hidden /> Peer-to-Beer
        </span>
        <span className="flex items-center gap-2 text-sm text-slate-400">
          <span
            className={snapshot.connection === "online" ? "h-2 w-2 rounded-full bg-emerald-400" : "h-2 w-2 rounded-full bg-amber-400"}
            aria-hidden
          />
          {snapshot.userId}
        </span>
      </header>
      {snapshot.connection === "reconnecting" && (
        <p role="status" className="rounded-xl border border-amber-500/40 bg-amber-500/10 px-4 py-2 text-sm text-amber-100">
          Reconnecting…
        </p>
      )}
      {media.problem && <NoticeBanner notice={{ tone: "alert", text: media.problem }} />}
      {outcome && !inCall && <NoticeBanner notice={outcome} onDismiss={() => phone.dismissOutcome()} />}
      {call ? (
        // Also under the incoming-call dialog: Accept then only closes the dialog, with the
        // remote <video> already bound. Mounting the call screen on Accept cost the callee
        // ~44 ms of React work just as media starts (docs/BENCHMARKS.md, B4).
        <CallScreen
          call={call}
          localStream={media.stream}
          localMedia={snapshot.localMedia}
          participantNotice={
            snapshot.lastParticipantEvent && { ...participantNotice(snapshot.lastParticipantEvent), seq: snapshot.lastParticipantEvent.seq }
          }
          onlineUsers={snapshot.onlineUsers}
          onInvite={(userId) => phone.invite(userId)}
          onHangUp={() => phone.hangUp()}
          onToggleMicrophone={() => phone.setMicrophoneEnabled(!snapshot.localMedia.audio)}
          onToggleCamera={() => phone.setCameraEnabled(!snapshot.localMedia.video)}
          localScreen={snapshot.localScreen}
          onLocalStream={(stream) => setMedia({ stream, problem: undefined })}
          chat={phone.chat}
        />
      ) : (
        <Lobby userId={snapshot.userId} localStream={media.stream} onlineUsers={snapshot.onlineUsers} onCall={(peer) => phone.call(peer)} />
      )}
      {call?.phase === "incoming" && (
        <IncomingCallDialog caller={call.peer} others={call.invitedWith} onAccept={() => phone.accept()} onDecline={() => phone.hangUp()} />
      )}
    </div>
  );
}
