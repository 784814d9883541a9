/**
 * The in-page instrumentation of B4, the same in every page the bench opens (our app, the
 * PeerJS page, the floor page). Installed with `context.addInitScript(installProbe)`, so it runs
 * before any page script. Every time is epoch milliseconds, `performance.timeOrigin +
 * performance.now()`: all pages run in one browser on one machine, so times taken in two pages
 * compare directly.
 *
 * It records, per call ("generation", started by `reset()`):
 * - `accepts`: the moment the "Accept" button of an incoming-call dialog is clicked (a capturing
 *   listener on window, so it runs before the app's own handler), or a page's own `mark()`;
 * - `frames`: for every <video> labelled "Remote video…", the first frame it presents, from
 *   `requestVideoFrameCallback` (requested on the element's `loadstart`, i.e. as soon as a
 *   stream is assigned to it, before any frame can be shown);
 * - `pcs`: state changes of every RTCPeerConnection the page creates (for the breakdown only).
 *
 * Everything here is serialized into the page: it may use nothing from outside the function.
 */

/** The first frame a remote <video> presented. */
export interface FrameMark {
  /** The element's aria-label. */
  label: string;
  /** When the decoded frame was handed to the compositor (`metadata.presentationTime`). */
  at: number;
  /** When the page's callback ran. */
  callbackAt: number;
  /** When the last packet of the frame arrived (`metadata.receiveTime`), if the browser says. */
  receiveAt: number | null;
  width: number;
  height: number;
}

export type PcEventKind = "created" | "signaling" | "ice" | "connection" | "track";

export interface PcEvent {
  /** Creation order of the peer connection within the generation, from 0. */
  pc: number;
  kind: PcEventKind;
  state: string;
  at: number;
}

/** Video counters of one peer connection, read once both sides showed their first frame. */
export interface VideoStats {
  pc: number;
  /** Inbound video. */
  framesReceived: number;
  framesDecoded: number;
  framesDropped: number;
  keyFramesDecoded: number;
  packetsLost: number;
  nacksSent: number;
  /** Keyframe requests this side sent (PLI + FIR). */
  keyFrameRequestsSent: number;
  /** Outbound video. */
  framesEncoded: number;
  keyFramesEncoded: number;
  /** Keyframe requests this side's encoder received (PLI + FIR). */
  keyFrameRequestsReceived: number;
  /** Frames the camera track delivered to the sender (media-source). */
  sourceFrames: number;
  /** The encoder's target bitrate (bit/s) and what limits its quality ("none", "cpu", "bandwidth"). */
  targetBitrate: number;
  qualityLimitationReason: string;
  /** The transport's estimate of what may be sent (bit/s), from the nominated candidate pair. */
  availableOutgoingBitrate: number;
}

export interface ProbeRecord {
  accepts: number[];
  frames: FrameMark[];
  pcs: PcEvent[];
}

export interface Probe {
  /** Starts a new generation: forgets what was recorded; late events of older ones are dropped. */
  reset(): void;
  record(): ProbeRecord;
  /** Records "accept" now (pages that answer in code rather than by a click); returns the time. */
  mark(): number;
  /** Resolves once every label has a frame in this generation; rejects after `timeoutMs`. */
  waitFrames(labels: string[], timeoutMs: number): Promise<void>;
  /** Resolves once getUserMedia has resolved `count` times in this page. */
  waitMedia(count: number, timeoutMs: number): Promise<void>;
  /** Video counters of this generation's peer connections that are still open. */
  videoStats(): Promise<VideoStats[]>;
}

export interface ProbeWindow {
  __b4: Probe;
}

export function installProbe(): void {
  const epoch = (t: number) => performance.timeOrigin + t;
  let generation = 0;
  let pcCount = 0;
  let media = 0;
  let record: ProbeRecord = { accepts: [], frames: [], pcs: [] };
  let connections: RTCPeerConnection[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const check of [...waiters]) check();
  };
  const waitFor = (done: () => boolean, timeoutMs: number, what: () => string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) {
        resolve();
        return;
      }
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`${what()} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
    });

  const probe: Probe = {
    reset() {
      generation += 1;
      pcCount = 0;
      record = { accepts: [], frames: [], pcs: [] };
      connections = [];
    },
    record: () => record,
    mark() {
      const at = epoch(performance.now());
      record.accepts.push(at);
      return at;
    },
    waitFrames(labels, timeoutMs) {
      const missing = () => labels.filter((label) => !record.frames.some((frame) => frame.label === label));
      return waitFor(() => missing().length === 0, timeoutMs, () => `no frame on ${missing().join(", ")}`);
    },
    waitMedia(count, timeoutMs) {
      return waitFor(() => media >= count, timeoutMs, () => `getUserMedia resolved ${media} of ${count} times`);
    },
    async videoStats() {
      const out: VideoStats[] = [];
      for (const [pc, connection] of connections.entries()) {
        if (connection.connectionState === "closed") continue;
        const stats: VideoStats = {
          pc, framesReceived: 0, framesDecoded: 0, framesDropped: 0, keyFramesDecoded: 0, packetsLost: 0, nacksSent: 0,
          keyFrameRequestsSent: 0, framesEncoded: 0, keyFramesEncoded: 0, keyFrameRequestsReceived: 0,
          sourceFrames: 0, targetBitrate: 0, qualityLimitationReason: "", availableOutgoingBitrate: 0,
        };
        const report = await connection.getStats();
        report.forEach((entry: Record<string, unknown>) => {
          const n = (key: string) => (typeof entry[key] === "number" ? (entry[key] as number) : 0);
          if (entry.type === "candidate-pair" && entry.nominated === true) {
            stats.availableOutgoingBitrate = Math.max(stats.availableOutgoingBitrate, n("availableOutgoingBitrate"));
          }
          if (entry.kind !== "video") return;
          if (entry.type === "media-source") stats.sourceFrames += n("frames");
          if (entry.type === "inbound-rtp") {
            stats.framesReceived += n("framesReceived");
            stats.framesDecoded += n("framesDecoded");
            stats.framesDropped += n("framesDropped");
            stats.keyFramesDecoded += n("keyFramesDecoded");
            stats.packetsLost += n("packetsLost");
            stats.nacksSent += n("nackCount");
            stats.keyFrameRequestsSent += n("pliCount") + n("firCount");
          } else if (entry.type === "outbound-rtp") {
            stats.framesEncoded += n("framesEncoded");
            stats.keyFramesEncoded += n("keyFramesEncoded");
            stats.keyFrameRequestsReceived += n("pliCount") + n("firCount");
            stats.targetBitrate += n("targetBitrate");
            if (typeof entry.qualityLimitationReason === "string") stats.qualityLimitationReason = entry.qualityLimitationReason;
          }
        });
        out.push(stats);
      }
      return out;
    },
  };
  (window as unknown as ProbeWindow).__b4 = probe;

  // Accept: the click on the dialog's button, before the app sees it.
  window.addEventListener(
    "click",
    (event) => {
      const target = event.target;
      const button = target instanceof Element ? target.closest("button") : null;
      if (!button || button.textContent?.trim() !== "Accept" || !button.closest("dialog")) return;
      record.accepts.push(epoch(performance.now()));
    },
    true,
  );

  // First frame of every remote video. `loadstart` does not bubble, but a capturing listener
  // on the document sees it; it fires when a stream is assigned, before the first frame.
  document.addEventListener(
    "loadstart",
    (event) => {
      const video = event.target;
      if (!(video instanceof HTMLVideoElement) || !video.srcObject) return;
      const label = video.getAttribute("aria-label") ?? "";
      if (!label.startsWith("Remote video")) return;
      const armed = generation;
      video.requestVideoFrameCallback((_now, metadata) => {
        if (armed !== generation) return;
        record.frames.push({
          label,
          at: epoch(metadata.presentationTime),
          callbackAt: epoch(performance.now()),
          receiveAt: metadata.receiveTime === undefined ? null : epoch(metadata.receiveTime),
          width: metadata.width,
          height: metadata.height,
        });
        notify();
      });
    },
    true,
  );

  // Local media: the app opens the camera on join; calls must not start before it is ready.
  const devices = navigator.mediaDevices;
  if (devices) {
    const getUserMedia = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints) => {
      const stream = await getUserMedia(constraints);
      media += 1;
      notify();
      return stream;
    };
  }

  // Peer connection states, for the breakdown of where the time goes.
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      const armed = generation;
      const pc = pcCount++;
      connections.push(this);
      const push = (kind: PcEventKind, state: string) => {
        if (armed === generation) record.pcs.push({ pc, kind, state, at: epoch(performance.now()) });
      };
      push("created", "");
      this.addEventListener("signalingstatechange", () => push("signaling", this.signalingState));
      this.addEventListener("iceconnectionstatechange", () => push("ice", this.iceConnectionState));
      this.addEventListener("connectionstatechange", () => push("connection", this.connectionState));
      this.addEventListener("track", (event) => push("track", event.track.kind));
    }
  };
}

/** tsx (esbuild keepNames) wraps named functions in __name(); pages have no such helper. */
export const NAME_SHIM = "globalThis.__name = (fn) => fn;";
