import { CircleAlert, CircleCheck, LoaderCircle, RefreshCw, TriangleAlert, X } from "lucide-react";
import { useEffect, useId, useRef, useState } from "react";
import { cn } from "../lib/cn.js";
import { loadDeviceChoice, saveDeviceChoice, type DeviceChoice } from "../lib/devices.js";
import { mediaProblem, openMedia } from "../lib/media.js";
import { runNetworkCheck } from "../lib/network.js";
import { NoticeBanner } from "./NoticeBanner.js";
import { Video } from "./Video.js";

type NetworkState = { phase: "checking" } | { phase: "done"; summary: string; tone: "good" | "warning" | "bad" };

/**
 * The pre-call check on the join screen: camera preview, camera and microphone pickers (the
 * choice is remembered for the call), a live microphone level and a network check. Everything
 * it opens (camera, microphone, audio context, peer connections) is released when it unmounts,
 * so the call opens the camera once.
 */
export function PrecallCheck({ id, onClose }: { id: string; onClose: () => void }) {
  // The devices to open: the stored choice first, then what the user picks.
  const [selection, setSelection] = useState<DeviceChoice>(loadDeviceChoice);
  const [stream, setStream] = useState<MediaStream>();
  const [active, setActive] = useState<DeviceChoice>({});
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [problem, setProblem] = useState<string>();
  const [network, setNetwork] = useState<NetworkState>({ phase: "checking" });
  const [networkRun, setNetworkRun] = useState(0);
  const meterRef = useRef<HTMLDivElement>(null);
  const barRef = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const meterLabelId = useId();

  // Opens the selected devices; the previous stream is stopped (cleanup) before the next opens,
  // since some cameras cannot be opened twice.
  useEffect(() => {
    let cancelled = false;
    let opened: MediaStream | undefined;
    const open = async () => {
      const media = await openMedia(selection);
      if (cancelled) return stopTracks(media);
      opened = media;
      setStream(media);
      setProblem(undefined);
      setActive({
        cameraId: media.getVideoTracks()[0]?.getSettings().deviceId,
        microphoneId: media.getAudioTracks()[0]?.getSettings().deviceId,
      });
      // Device names are listed only once access is granted.
      const listed = await navigator.mediaDevices.enumerateDevices();
      if (!cancelled) setDevices(listed);
    };
    if (!navigator.mediaDevices?.getUserMedia) setProblem("This browser cannot use a camera here (it needs HTTPS or localhost).");
    else {
      open().catch((error: unknown) => {
        if (!cancelled) setProblem(mediaProblem(error));
      });
    }
    return () => {
      cancelled = true;
      if (opened) stopTracks(opened);
      setStream(undefined);
    };
  }, [selection]);

  // Devices plugged in or out: refresh the lists; if ours went away, fall back to the defaults.
  useEffect(() => {
    const mediaDevices = navigator.mediaDevices;
    if (!mediaDevices) return;
    const changed = () => {
      void mediaDevices.enumerateDevices().then(setDevices);
      if (stream?.getTracks().some((track) => track.readyState === "ended")) setSelection({});
    };
    mediaDevices.addEventListener("devicechange", changed);
    return () => mediaDevices.removeEventListener("devicechange", changed);
  }, [stream]);

  // The level meter: RMS of the microphone's samples in dBFS, -60..0 dB shown as 0..100. The
  // DOM is updated directly, ten times a second, rather than re-rendering the panel.
  useEffect(() => {
    const track = stream?.getAudioTracks()[0];
    const meter = meterRef.current;
    const bar = barRef.current;
    if (!track || !meter || !bar) return;
    const context = new AudioContext();
    const source = context.createMediaStreamSource(new MediaStream([track]));
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    void context.resume();
    const show = (level: number) => {
      meter.setAttribute("aria-valuenow", String(level));
      meter.setAttribute("aria-valuetext", `${level}%`);
      bar.style.width = `${level}%`;
    };
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const rms = Math.sqrt(sum / samples.length);
      const db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
      show(Math.round(Math.min(1, Math.max(0, (db + 60) / 60)) * 100));
    }, 100);
    return () => {
      clearInterval(timer);
      source.disconnect();
      void context.close();
      show(0);
    };
  }, [stream]);

  useEffect(() => {
    const controller = new AbortController();
    setNetwork({ phase: "checking" });
    runNetworkCheck(controller.signal).then(
      (result) => setNetwork({ phase: "done", ...result }),
      () => undefined, // aborted: the panel closed or the check restarted
    );
    return () => controller.abort();
  }, [networkRun]);

  const choose = (kind: keyof DeviceChoice, deviceId: string) => {
    saveDeviceChoice({ [kind]: deviceId });
    setSelection({ ...active, [kind]: deviceId });
  };

  return (
    <section
      id={id}
      aria-labelledby={titleId}
      className="mt-4 space-y-4 rounded-2xl border border-slate-800 bg-slate-900/60 p-4 shadow-xl sm:p-6"
    >
      <div className="flex items-center justify-between gap-3">
        <h2 id={titleId} className="text-base font-semibold sm:text-lg">
          Camera and network check
        </h2>
        <button
          type="button"
          onClick={onClose}
          aria-label="Close check"
          className="rounded-full p-1.5 text-slate-400 hover:bg-slate-800 hover:text-slate-100 focus-visible:outline-2 focus-visible:outline-brand-400"
        >
          <X className="h-5 w-5" aria-hidden />
        </button>
      </div>
      {problem && <NoticeBanner notice={{ tone: "alert", text: problem }} />}
      <div className="aspect-video overflow-hidden rounded-xl border border-slate-800 bg-slate-950">
        <Video stream={stream} label="Camera preview" muted mirrored />
      </div>
      {/* One above the other: device names are long ("Default - MacBook Pro Microphone (Built-in)"). */}
      <div className="grid gap-3">
        <DeviceSelect label="Camera" kind="videoinput" devices={devices} value={active.cameraId} onChange={(id) => choose("cameraId", id)} />
        <DeviceSelect
          label="Microphone"
          kind="audioinput"
          devices={devices}
          value={active.microphoneId}
          onChange={(id) => choose("microphoneId", id)}
        />
      </div>
      <div>
        <span id={meterLabelId} className="mb-1.5 block text-sm font-medium text-slate-300">
          Microphone level
        </span>
        <div
          ref={meterRef}
          role="meter"
          aria-labelledby={meterLabelId}
          aria-valuemin={0}
          aria-valuemax={100}
          className="h-2.5 overflow-hidden rounded-full bg-slate-800"
        >
          <div ref={barRef} className="h-full w-0 rounded-full bg-emerald-400 transition-[width] duration-100" />
        </div>
        <span className="mt-1.5 block text-xs text-slate-500">Speak: the bar should move.</span>
      </div>
      <NetworkResult network={network} onRetry={() => setNetworkRun((run) => run + 1)} />
    </section>
  );
}

function NetworkResult({ network, onRetry }: { network: NetworkState; onRetry: () => void }) {
  const tone = network.phase === "checking" ? "checking" : network.tone;
  const Icon = { checking: LoaderCircle, good: CircleCheck, warning: TriangleAlert, bad: CircleAlert }[tone];
  return (
    <div
      className={cn(
        "flex flex-wrap items-start justify-between gap-3 rounded-xl border px-4 py-3 text-sm",
        tone === "checking" && "border-slate-700 bg-slate-950/60 text-slate-300",
        tone === "good" && "border-emerald-500/40 bg-emerald-500/10 text-emerald-100",
        tone === "warning" && "border-amber-500/40 bg-amber-500/10 text-amber-100",
        tone === "bad" && "border-rose-500/40 bg-rose-500/10 text-rose-100",
      )}
    >
      <p role="status" className="flex min-w-0 flex-1 basis-48 items-start gap-2">
        <Icon className={cn("mt-0.5 h-4 w-4 shrink-0", tone === "checking" && "animate-spin")} aria-hidden />
        <span>{network.phase === "checking" ? "Checking the network…" : network.summary}</span>
      </p>
      {network.phase === "done" && (
        <button
          type="button"
          onClick={onRetry}
          className="inline-flex items-center gap-1.5 rounded-full px-2 py-0.5 text-slate-300 hover:text-white focus-visible:outline-2 focus-visible:outline-brand-400"
        >
          <RefreshCw className="h-3.5 w-3.5" aria-hidden /> Check again
        </button>
      )}
    </div>
  );
}

interface DeviceSelectProps {
  label: string;
  kind: MediaDeviceKind;
  devices: MediaDeviceInfo[];
  value: string | undefined;
  onChange: (deviceId: string) => void;
}

export function DeviceSelect({ label, kind, devices, value, onChange }: DeviceSelectProps) {
  const id = useId();
  const options = devices.filter((device) => device.kind === kind && device.deviceId !== "");
  return (
    <div className="min-w-0">
      <label htmlFor={id} className="mb-1.5 block text-sm font-medium text-slate-300">
        {label}
      </label>
      <select
        id={id}
        value={value ?? ""}
        onChange={(event) => onChange(event.target.value)}
        disabled={options.length === 0}
        className="h-11 w-full truncate rounded-lg border border-slate-700 bg-slate-950 px-3 text-slate-100 outline-none focus:border-brand-500 focus-visible:ring-2 focus-visible:ring-brand-500/50 disabled:opacity-60"
      >
        {options.length === 0 && <option value="">{value === undefined ? "Not available" : "…"}</option>}
        {options.map((device, index) => (
          <option key={device.deviceId} value={device.deviceId}>
            {device.label || `${label} ${index + 1}`}
          </option>
        ))}
      </select>
    </div>
  );
}

function stopTracks(stream: MediaStream): void {
  for (const track of stream.getTracks()) track.stop();
}
