/**
 * The in-page instrumentation of B9 (group calls), installed with `context.addInitScript` in
 * every page of the phase (our app, and the PeerJS mesh page). Like B4's probe (probe.ts) it
 * works per "generation" (`reset()`), and every time is epoch ms (performance.timeOrigin +
 * performance.now()); all pages run on one machine, so times from two browsers compare.
 *
 * It records:
 * - `accepts`: the click on an incoming-call dialog's "Accept" button (a capturing listener,
 *   before the app's own handler), or a page's own `mark()`;
 * - `frames`: for every <video> labelled "Remote video" inside a <figure>, the first frame it
 *   presents (requestVideoFrameCallback, requested on `loadstart`, i.e. when a stream is
 *   assigned), keyed by the figure's caption: the participant it shows;
 * - `rpcs`: every gRPC-Web request the page makes through fetch (the app's transport): count,
 *   request bytes and response bytes (read from a clone, so a JoinCall stream's bytes count as
 *   they arrive), by method;
 * - every RTCPeerConnection, for `uplink()`: each one's outbound and inbound video (getStats)
 *   and its video sender's encoding limits (maxBitrate, scaleResolutionDownBy).
 *
 * Everything here is serialized into the page: it may use nothing from outside the function.
 */

export interface GroupFrame {
  /** The caption of the <figure> the video is in: whom it shows. */
  who: string;
  at: number;
  width: number;
  height: number;
}

export interface RpcTally {
  calls: number;
  requestBytes: number;
  responseBytes: number;
}

/** One peer connection's video, as getStats and the sender's parameters have it now. */
export interface LinkSample {
  /** Creation order of the connection in the page (never reset). */
  pc: number;
  at: number;
  bytesSent: number;
  framesEncoded: number;
  frameWidth: number;
  frameHeight: number;
  qualityLimitationReason: string;
  targetBitrate: number;
  /** encodings[0] of the video sender: undefined when unset. */
  maxBitrate: number | null;
  scaleResolutionDownBy: number | null;
  framesDecoded: number;
  bytesReceived: number;
}

/** A peer connection created in this generation, and when it got going. */
export interface PcMark {
  pc: number;
  createdAt: number;
  /** First remote description applied (the offer or the answer arrived). */
  remoteAt: number | null;
  /** connectionState "connected" (ICE and DTLS done). */
  connectedAt: number | null;
}

export interface GroupRecord {
  accepts: number[];
  frames: GroupFrame[];
  rpcs: Record<string, RpcTally>;
  pcs: PcMark[];
}

export interface GroupProbe {
  reset(): void;
  record(): GroupRecord;
  mark(): number;
  /** Resolves once each of `who` has a first frame in this generation. */
  waitFrames(who: string[], timeoutMs: number): Promise<void>;
  /** Resolves once getUserMedia has resolved `count` times in this page. */
  waitMedia(count: number, timeoutMs: number): Promise<void>;
  /** The video of every open peer connection. */
  uplink(): Promise<LinkSample[]>;
}

export interface GroupProbeWindow {
  __b9: GroupProbe;
}

export function installGroupProbe(): void {
  const epoch = (t: number) => performance.timeOrigin + t;
  let generation = 0;
  let media = 0;
  let record: GroupRecord = { accepts: [], frames: [], rpcs: {}, pcs: [] };
  const connections: RTCPeerConnection[] = [];
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const check of [...waiters]) check();
  };
  const waitFor = (done: () => boolean, timeoutMs: number, what: () => string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
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
  const tally = (method: string): RpcTally => (record.rpcs[method] ??= { calls: 0, requestBytes: 0, responseBytes: 0 });

  const probe: GroupProbe = {
    reset() {
      generation += 1;
      record = { accepts: [], frames: [], rpcs: {}, pcs: [] };
    },
    record: () => record,
    mark() {
      const at = epoch(performance.now());
      record.accepts.push(at);
      return at;
    },
    waitFrames(who, timeoutMs) {
      const missing = () => who.filter((id) => !record.frames.some((frame) => frame.who === id));
      return waitFor(() => missing().length === 0, timeoutMs, () => `no frame from ${missing().join(", ")}`);
    },
    waitMedia(count, timeoutMs) {
      return waitFor(() => media >= count, timeoutMs, () => `getUserMedia resolved ${media} of ${count} times`);
    },
    async uplink() {
      const out: LinkSample[] = [];
      for (const [pc, connection] of connections.entries()) {
        if (connection.connectionState === "closed") continue;
        const sample: LinkSample = {
          pc, at: epoch(performance.now()), bytesSent: 0, framesEncoded: 0, frameWidth: 0, frameHeight: 0,
          qualityLimitationReason: "", targetBitrate: 0, maxBitrate: null, scaleResolutionDownBy: null,
          framesDecoded: 0, bytesReceived: 0,
        };
        const sender = connection.getSenders().find((s) => s.track?.kind === "video");
        const encoding = sender?.getParameters().encodings[0];
        sample.maxBitrate = encoding?.maxBitrate ?? null;
        sample.scaleResolutionDownBy = encoding?.scaleResolutionDownBy ?? null;
        const report = await connection.getStats();
        report.forEach((entry: Record<string, unknown>) => {
          if (entry.kind !== "video") return;
          const n = (key: string) => (typeof entry[key] === "number" ? (entry[key] as number) : 0);
          if (entry.type === "outbound-rtp") {
            sample.bytesSent += n("bytesSent");
            sample.framesEncoded += n("framesEncoded");
            sample.frameWidth = Math.max(sample.frameWidth, n("frameWidth"));
            sample.frameHeight = Math.max(sample.frameHeight, n("frameHeight"));
            sample.targetBitrate += n("targetBitrate");
            if (typeof entry.qualityLimitationReason === "string") sample.qualityLimitationReason = entry.qualityLimitationReason;
          } else if (entry.type === "inbound-rtp") {
            sample.framesDecoded += n("framesDecoded");
            sample.bytesReceived += n("bytesReceived");
          }
        });
        out.push(sample);
      }
      return out;
    },
  };
  (window as unknown as GroupProbeWindow).__b9 = probe;

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

  document.addEventListener(
    "loadstart",
    (event) => {
      const video = event.target;
      if (!(video instanceof HTMLVideoElement) || !video.srcObject) return;
      if (video.getAttribute("aria-label") !== "Remote video") return;
      const figure = video.closest("figure");
      if (!figure) return;
      const armed = generation;
      video.requestVideoFrameCallback((_now, metadata) => {
        if (armed !== generation) return;
        const who = figure.querySelector("figcaption")?.textContent?.trim() ?? "";
        record.frames.push({ who, at: epoch(metadata.presentationTime), width: metadata.width, height: metadata.height });
        notify();
      });
    },
    true,
  );

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

  // gRPC-Web goes through window.fetch (web/src/lib/phone.ts looks it up at each call).
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = /\/peertobeer\.signaling\.v1\.\w+\/(\w+)$/.exec(url)?.[1];
    if (!method) return nativeFetch(input, init);
    const counted = tally(method);
    counted.calls += 1;
    const body = init?.body;
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) counted.requestBytes += body.byteLength;
    else if (typeof body === "string") counted.requestBytes += new TextEncoder().encode(body).byteLength;
    const response = await nativeFetch(input, init);
    const reader = response.clone().body?.getReader();
    if (reader) {
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            // Into the current generation: a JoinCall stream opened before it counts what it carries now.
            tally(method).responseBytes += value.byteLength;
          }
        } catch {
          // The request was aborted (hang-up, page closing): what arrived is counted.
        }
      })();
    }
    return response;
  };

  // PeerJS signals over a WebSocket: each message sent counts as a request ("ws"), and what
  // arrives as its response bytes.
  const NativeSocket = window.WebSocket;
  window.WebSocket = class extends NativeSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("message", (event: MessageEvent) => {
        const data: unknown = event.data;
        const bytes = typeof data === "string" ? new TextEncoder().encode(data).byteLength : data instanceof ArrayBuffer ? data.byteLength : data instanceof Blob ? data.size : 0;
        tally("ws").responseBytes += bytes;
      });
    }
    override send(data: string | Blob | BufferSource): void {
      const counted = tally("ws");
      counted.calls += 1;
      counted.requestBytes +=
        typeof data === "string" ? new TextEncoder().encode(data).byteLength : data instanceof Blob ? data.size : data.byteLength;
      super.send(data);
    }
  };

  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      const mark: PcMark = { pc: connections.length, createdAt: epoch(performance.now()), remoteAt: null, connectedAt: null };
      connections.push(this);
      record.pcs.push(mark);
      this.addEventListener("signalingstatechange", () => {
        if (mark.remoteAt === null && this.remoteDescription) mark.remoteAt = epoch(performance.now());
      });
      this.addEventListener("connectionstatechange", () => {
        if (mark.connectedAt === null && this.connectionState === "connected") mark.connectedAt = epoch(performance.now());
      });
    }
  };
}
