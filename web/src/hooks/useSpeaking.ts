import { useEffect, useState } from "react";

/** One context for every tile: browsers cap how many may run. */
let context: AudioContext | undefined;

/** Above this RMS level (0–1) someone is talking; Chromium's comfort noise stays well below. */
const SPEAKING_LEVEL = 0.02;
/** How long the highlight outlives the last loud moment, so it does not flicker between words. */
const HOLD_MS = 700;

/** Whether the audio in `stream` is loud enough to be someone speaking (for the tile highlight). */
export function useSpeaking(stream: MediaStream | undefined): boolean {
  const [speaking, setSpeaking] = useState(false);
  const audioTrack = stream?.getAudioTracks()[0];
  useEffect(() => {
    if (!stream || !audioTrack || typeof AudioContext === "undefined") return;
    context ??= new AudioContext();
    const audio = context;
    // Remote audio plays through its <video>; this branch only measures it.
    const source = audio.createMediaStreamSource(new MediaStream([audioTrack]));
    const analyser = audio.createAnalyser();
    analyser.fftSize = 512;
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let loudAt = 0;
    const timer = setInterval(() => {
      if (audio.state === "suspended") void audio.resume();
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) sum += sample * sample;
      const now = performance.now();
      if (Math.sqrt(sum / samples.length) > SPEAKING_LEVEL) loudAt = now;
      setSpeaking(now - loudAt < HOLD_MS);
    }, 150);
    return () => {
      clearInterval(timer);
      source.disconnect();
      setSpeaking(false);
    };
  }, [stream, audioTrack]);
  return speaking;
}
