/** Calling tones made with Web Audio: nothing to download. */
export type Tone = "ringback" | "ringtone";

const PATTERNS: Record<Tone, { frequencies: number[]; bursts: [number, number][]; periodMs: number }> = {
  // What the caller hears while the other side rings: 440+480 Hz, 2 s on, 4 s off.
  ringback: { frequencies: [440, 480], bursts: [[0, 2]], periodMs: 6000 },
  // What the callee hears: two short trills, then a pause.
  ringtone: { frequencies: [660, 880], bursts: [[0, 0.4], [0.6, 1.0]], periodMs: 3000 },
};

/**
 * One AudioContext for the page's life, suspended between tones: opening and closing an audio
 * output for every ring costs the browser's audio service just as the call's own audio starts.
 */
let shared: AudioContext | undefined;

/** Plays `tone` until the returned function is called. */
export function playTone(tone: Tone): () => void {
  const AudioContextClass = window.AudioContext;
  if (!AudioContextClass) return () => undefined;
  const context = (shared ??= new AudioContextClass());
  void context.resume();
  const pattern = PATTERNS[tone];
  const output = context.createGain();
  output.gain.value = 0;
  output.connect(context.destination);
  const oscillators = pattern.frequencies.map((frequency) => {
    const oscillator = context.createOscillator();
    oscillator.frequency.value = frequency;
    oscillator.connect(output);
    oscillator.start();
    return oscillator;
  });
  const schedule = () => {
    const start = context.currentTime + 0.05;
    for (const [on, off] of pattern.bursts) {
      output.gain.setValueAtTime(0.08, start + on);
      output.gain.setValueAtTime(0, start + off);
    }
  };
  schedule();
  const timer = setInterval(schedule, pattern.periodMs);
  return () => {
    clearInterval(timer);
    for (const oscillator of oscillators) oscillator.stop();
    output.disconnect();
    void context.suspend();
  };
}
