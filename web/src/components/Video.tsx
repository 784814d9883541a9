import { useEffect, useRef } from "react";
import { cn } from "../lib/cn.js";
import { setSpeaker, useSpeaker } from "../lib/speaker.js";

interface VideoProps {
  stream: MediaStream | undefined;
  label: string;
  muted?: boolean;
  mirrored?: boolean;
  className?: string;
}

/** A <video> bound to a MediaStream, labelled for screen readers and tests. */
export function Video({ stream, label, muted = false, mirrored = false, className }: VideoProps) {
  const ref = useRef<HTMLVideoElement>(null);
  const speakerId = useSpeaker();
  useEffect(() => {
    const video = ref.current;
    if (video && video.srcObject !== (stream ?? null)) video.srcObject = stream ?? null;
  }, [stream]);
  // What is heard plays on the chosen speaker (Settings); one that is gone falls back to the default.
  useEffect(() => {
    const video = ref.current;
    if (muted || !video || typeof video.setSinkId !== "function" || video.sinkId === speakerId) return;
    video.setSinkId(speakerId).catch(() => {
      if (speakerId !== "") setSpeaker("");
    });
  }, [muted, speakerId]);
  // A removed <video> keeps its player, and the camera frames it holds, until it is garbage
  // collected; the camera shares a few buffers among everyone showing it, so held frames stall
  // every view of it (seconds, measured). Let go of the stream as soon as the element goes.
  useEffect(() => {
    const video = ref.current;
    return () => {
      if (video) video.srcObject = null;
    };
  }, []);
  return (
    <video
      ref={ref}
      aria-label={label}
      autoPlay
      playsInline
      muted={muted}
      className={cn("h-full w-full bg-slate-900 object-cover", mirrored && "mirror", className)}
    />
  );
}
