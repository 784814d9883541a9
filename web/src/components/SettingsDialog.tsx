import { Settings, X } from "lucide-react";
import { useCallback, useEffect, useId, useRef, useState } from "react";
import { saveDeviceChoice } from "../lib/devices.js";
import { canPickSpeaker, mediaProblem, openTrack } from "../lib/media.js";
import { phone } from "../lib/phone.js";
import { setSpeaker, useSpeaker } from "../lib/speaker.js";
import { Button } from "./Button.js";
import { DeviceSelect } from "./PrecallCheck.js";

type Kind = "audio" | "video";

/** The device a live track of `kind` in the call's stream comes from. */
function trackOf(kind: Kind): MediaStreamTrack | undefined {
  return phone.getLocalStream()?.getTracks().find((t) => t.kind === kind && t.readyState === "live");
}

/**
 * Opens `deviceId` (undefined: the default) and swaps it into the call (Phone.replaceTrack: no
 * renegotiation, muted stays muted). When the device cannot open beside the one in use, the
 * one in use is let go first.
 */
async function switchDevice(kind: Kind, deviceId: string | undefined): Promise<void> {
  const track = await openTrack(kind, deviceId, () => trackOf(kind)?.stop());
  await phone.replaceTrack(track);
}

interface CallSettingsProps {
  /** The stream the call sends; a new one when there was none (camera allowed only now). */
  localStream: MediaStream | undefined;
  onLocalStream: (stream: MediaStream) => void;
}

/**
 * "Settings" in the call's controls: camera, microphone and (where setSinkId exists) speaker,
 * switched mid-call. Also, while the call lasts, a device that is unplugged is replaced by the
 * default one, dialog open or not.
 */
export function CallSettings({ localStream, onLocalStream }: CallSettingsProps) {
  const [open, setOpen] = useState(false);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [problem, setProblem] = useState<string>();
  // Bumped when the tracks in use change: the pickers show them, the watcher listens to them.
  const [version, setVersion] = useState(0);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const speakerId = useSpeaker();
  const speakerIdRef = useRef(speakerId);
  speakerIdRef.current = speakerId;

  const refresh = useCallback(async () => {
    if (!navigator.mediaDevices?.enumerateDevices) return [];
    const listed = await navigator.mediaDevices.enumerateDevices();
    setDevices(listed);
    return listed;
  }, []);

  const choose = async (kind: Kind, deviceId: string) => {
    setProblem(undefined);
    try {
      await switchDevice(kind, deviceId);
      saveDeviceChoice(kind === "video" ? { cameraId: deviceId } : { microphoneId: deviceId });
    } catch (error) {
      setProblem(`Could not switch the ${kind === "video" ? "camera" : "microphone"}. ${mediaProblem(error)}`);
    }
    const stream = phone.getLocalStream();
    if (stream && stream !== localStream) onLocalStream(stream);
    setVersion((v) => v + 1); // the pickers show the track now in use
  };

  // Devices plugged in or out: the lists follow; a camera or microphone in use that is gone
  // (its track ended, or no longer listed) gives way to the default one. So does a speaker.
  useEffect(() => {
    const mediaDevices = navigator.mediaDevices;
    if (!mediaDevices?.enumerateDevices) return;
    let running = false;
    const check = async () => {
      if (running) return;
      running = true;
      try {
        const listed = await refresh();
        for (const kind of ["video", "audio"] as const) {
          const track = phone.getLocalStream()?.getTracks().find((t) => t.kind === kind);
          if (!track) continue;
          const deviceId = track.getSettings().deviceId;
          const listedKind = kind === "video" ? "videoinput" : "audioinput";
          const gone = track.readyState === "ended" || (deviceId !== undefined && !listed.some((d) => d.kind === listedKind && d.deviceId === deviceId));
          if (gone) await switchDevice(kind, undefined).catch(() => undefined);
        }
        const speaker = speakerIdRef.current;
        if (speaker !== "" && !listed.some((d) => d.kind === "audiooutput" && d.deviceId === speaker)) setSpeaker("");
        setVersion((v) => v + 1);
      } finally {
        running = false;
      }
    };
    const tracks = phone.getLocalStream()?.getTracks() ?? [];
    mediaDevices.addEventListener("devicechange", check);
    for (const track of tracks) track.addEventListener("ended", check);
    return () => {
      mediaDevices.removeEventListener("devicechange", check);
      for (const track of tracks) track.removeEventListener("ended", check);
    };
  }, [refresh, localStream, version]);

  useEffect(() => {
    if (open) void refresh();
  }, [open, refresh]);

  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };

  return (
    <>
      <Button
        ref={buttonRef}
        size="icon"
        variant="ghost"
        aria-label="Settings"
        title="Settings"
        aria-expanded={open}
        aria-haspopup="dialog"
        onClick={() => (open ? close() : setOpen(true))}
      >
        <Settings aria-hidden />
      </Button>
      {open && (
        <SettingsPanel
          devices={devices}
          cameraId={trackOf("video")?.getSettings().deviceId}
          microphoneId={trackOf("audio")?.getSettings().deviceId}
          speakerId={speakerId}
          problem={problem}
          onCamera={(id) => void choose("video", id)}
          onMicrophone={(id) => void choose("audio", id)}
          onSpeaker={(id) => {
            setSpeaker(id);
            saveDeviceChoice({ speakerId: id });
          }}
          onClose={close}
        />
      )}
    </>
  );
}

interface SettingsPanelProps {
  devices: MediaDeviceInfo[];
  cameraId: string | undefined;
  microphoneId: string | undefined;
  speakerId: string;
  problem: string | undefined;
  onCamera: (deviceId: string) => void;
  onMicrophone: (deviceId: string) => void;
  onSpeaker: (deviceId: string) => void;
  onClose: () => void;
}

function SettingsPanel(props: SettingsPanelProps) {
  const titleId = useId();
  const panelRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    panelRef.current?.querySelector("select")?.focus();
  }, []);
  return (
    <div
      ref={panelRef}
      role="dialog"
      aria-labelledby={titleId}
      onKeyDown={(e) => e.key === "Escape" && props.onClose()}
      className="absolute inset-x-0 bottom-full z-20 mx-auto mb-3 w-full max-w-md space-y-3 rounded-2xl border border-slate-700 bg-slate-900 p-4 text-left shadow-2xl"
    >
      <div className="flex items-center justify-between gap-3">
        <h2 id={titleId} className="text-base font-semibold">
          Settings
        </h2>
        <button
          type="button"
          onClick={props.onClose}
          aria-label="Close settings"
          className="rounded-full p-1.5 text-slate-400 hover:bg-slate-800 hover:text-slate-100 focus-visible:outline-2 focus-visible:outline-brand-400"
        >
          <X className="h-5 w-5" aria-hidden />
        </button>
      </div>
      {props.problem && (
        <p role="alert" className="rounded-lg border border-rose-500/40 bg-rose-500/10 px-3 py-2 text-sm text-rose-100">
          {props.problem}
        </p>
      )}
      <DeviceSelect label="Camera" kind="videoinput" devices={props.devices} value={props.cameraId} onChange={props.onCamera} />
      <DeviceSelect label="Microphone" kind="audioinput" devices={props.devices} value={props.microphoneId} onChange={props.onMicrophone} />
      {canPickSpeaker() && (
        <DeviceSelect
          label="Speaker"
          kind="audiooutput"
          devices={props.devices}
          value={props.speakerId || (props.devices.some((d) => d.kind === "audiooutput" && d.deviceId === "default") ? "default" : undefined)}
          onChange={props.onSpeaker}
        />
      )}
    </div>
  );
}
