/*
 * The pre-call network check: can this browser learn its public address from STUN (direct
 * connections can work) and get a relay allocated by TURN (calls connect even when direct paths
 * are blocked)? Each is found by gathering candidates on a throwaway RTCPeerConnection given
 * only those servers: a server-reflexive candidate proves STUN answered, a relay candidate that
 * the TURN server accepted the credentials and allocated.
 */

/** How one kind of server fared. */
export type ProbeResult =
  | { state: "ok" }
  | { state: "failed"; /** Why, in plain words ("the relay refused the credentials"). */ reason: string }
  | { state: "not-configured" };

export type NetworkVerdict =
  /** Direct connections can work, and the relay too where one is configured. */
  | "good"
  /** STUN did not answer but the relay works: calls will be relayed. */
  | "relay-only"
  /** Direct connections work but the configured relay does not. */
  | "relay-failed"
  /** Neither STUN nor TURN answered. */
  | "unreachable"
  /** No STUN or TURN server is configured. */
  | "unconfigured";

export interface NetworkCheckResult {
  stun: ProbeResult;
  turn: ProbeResult;
  /** A STUN server, or a TURN server answering STUN, told us our address. */
  directWorks: boolean;
  verdict: NetworkVerdict;
  /** One sentence for people, beginning "Network:". */
  summary: string;
}

export interface NetworkCheckOptions {
  /** The constructor to use (window.RTCPeerConnection, or a Node WebRTC stack's). */
  RTCPeerConnection: new (configuration?: RTCConfiguration) => RTCPeerConnection;
  /** The servers to check, as calls would use them (stun:, turn: and turns: URLs). */
  iceServers: RTCIceServer[];
  /**
   * How long each probe waits for its candidate. A STUN or TURN server that does not answer
   * never fails gathering outright (Chromium retries for ~40 s), so silence is a failure.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export const NETWORK_CHECK_TIMEOUT_MS = 5_000;

/** Checks STUN and TURN side by side; resolves with a verdict, rejects only on bad input or abort. */
export async function checkNetwork(options: NetworkCheckOptions): Promise<NetworkCheckResult> {
  const { stun, turn } = splitIceServers(options.iceServers);
  const timeoutMs = options.timeoutMs ?? NETWORK_CHECK_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  const probe = (servers: RTCIceServer[], wanted: CandidateType) =>
    servers.length === 0
      ? Promise.resolve<Gathered>({ found: new Set(), errors: [], completed: false, timedOut: false })
      : gather(options.RTCPeerConnection, servers, wanted, timeoutMs, options.signal);
  const [fromStun, fromTurn] = await Promise.all([probe(stun, "srflx"), probe(turn, "relay")]);
  const stunResult: ProbeResult =
    stun.length === 0 ? { state: "not-configured" }
    : stunAnswered(fromStun) ? { state: "ok" }
    : { state: "failed", reason: stunFailure(fromStun) };
  const turnResult: ProbeResult =
    turn.length === 0 ? { state: "not-configured" }
    : fromTurn.found.has("relay") ? { state: "ok" }
    : { state: "failed", reason: turnFailure(fromTurn) };
  // Browsers also send STUN binding requests to TURN servers: their answer shows the same thing.
  const directWorks = stunAnswered(fromStun) || stunAnswered(fromTurn);
  return describeNetwork(stunResult, turnResult, directWorks);
}

/** The verdict and its sentence for what the probes found. */
export function describeNetwork(stun: ProbeResult, turn: ProbeResult, directWorks = stun.state === "ok"): NetworkCheckResult {
  const result = (verdict: NetworkVerdict, summary: string): NetworkCheckResult => ({ stun, turn, directWorks, verdict, summary });
  if (stun.state === "not-configured" && turn.state === "not-configured") {
    return result("unconfigured", "Network: no STUN or TURN server is set up — calls can connect only within one network");
  }
  if (turn.state === "ok") {
    if (directWorks) return result("good", "Network: good — direct connections work, and the relay (TURN) works too");
    if (stun.state === "failed") return result("relay-only", "Network: direct connections blocked, calls will go through the relay (TURN)");
    return result("good", "Network: good — the relay (TURN) works, so calls can connect from any network");
  }
  if (turn.state === "failed") {
    if (directWorks) {
      return result("relay-failed", `Network: direct connections work, but the relay (TURN) does not (${turn.reason}) — calls from strict networks may fail`);
    }
    return result("unreachable", `Network: cannot reach the STUN or TURN server (${turn.reason}) — calls may fail on other networks`);
  }
  // No TURN configured.
  if (directWorks) return result("good", "Network: good — direct connections work");
  return result("unreachable", "Network: cannot reach the STUN server — calls may fail on other networks");
}

type CandidateType = "host" | "srflx" | "prflx" | "relay";

interface Gathered {
  found: Set<CandidateType>;
  /** icecandidateerror codes (401: refused credentials; 701: server unreachable). */
  errors: { code: number; text: string }[];
  /** Gathering ended (every server answered or failed) before the timeout. */
  completed: boolean;
  timedOut: boolean;
}

/**
 * STUN answered: a server-reflexive candidate, or gathering that completed without an error.
 * Chromium leaves out a server-reflexive candidate whose address is a host candidate's (no NAT
 * in between, as on a machine with a public address, or here on loopback), and gathering
 * completes only once each STUN request was answered or failed (failures raise
 * icecandidateerror; silence runs into the timeout).
 */
function stunAnswered(gathered: Gathered): boolean {
  return gathered.found.has("srflx") || (gathered.completed && gathered.errors.length === 0 && gathered.found.has("host"));
}

/** Gathers on a throwaway connection until a `wanted` candidate, the end of gathering or the timeout. */
function gather(
  PeerConnection: NetworkCheckOptions["RTCPeerConnection"],
  iceServers: RTCIceServer[],
  wanted: CandidateType,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<Gathered> {
  signal?.throwIfAborted();
  const pc = new PeerConnection({ iceServers, iceTransportPolicy: "all" });
  const gathered: Gathered = { found: new Set(), errors: [], completed: false, timedOut: false };
  return new Promise<Gathered>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (error?: unknown) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      pc.close();
      if (error === undefined) resolve(gathered);
      else reject(error);
    };
    const aborted = () => finish(signal?.reason ?? new DOMException("The network check was aborted.", "AbortError"));
    signal?.addEventListener("abort", aborted, { once: true });
    timer = setTimeout(() => {
      gathered.timedOut = true;
      finish();
    }, timeoutMs);
    pc.addEventListener("icecandidate", (event) => {
      if (!event.candidate) {
        gathered.completed = true;
        return finish();
      }
      const type = candidateType(event.candidate);
      if (type) gathered.found.add(type);
      if (type === wanted) finish();
    });
    pc.addEventListener("icecandidateerror", (event) => {
      const { errorCode, errorText } = event as RTCPeerConnectionIceErrorEvent;
      gathered.errors.push({ code: errorCode, text: errorText });
    });
    // A data channel gives the offer a section to gather for, without asking for a camera.
    pc.createDataChannel("network-check");
    pc.createOffer()
      .then((offer) => pc.setLocalDescription(offer))
      .catch((error: unknown) => finish(error));
  });
}

/** The candidate's type, from `type` where the stack fills it in, else from its SDP line. */
function candidateType(candidate: RTCIceCandidate): CandidateType | undefined {
  const type = candidate.type ?? / typ (host|srflx|prflx|relay)\b/.exec(candidate.candidate)?.[1];
  return type === "host" || type === "srflx" || type === "prflx" || type === "relay" ? type : undefined;
}

function stunFailure(gathered: Gathered): string {
  if (gathered.found.size === 0) return "no network interface to reach it from";
  return "no answer from the STUN server";
}

function turnFailure(gathered: Gathered): string {
  if (gathered.errors.some((e) => e.code === 401)) return "the relay refused the credentials";
  if (gathered.errors.some((e) => e.code === 701)) return "could not reach the relay";
  const other = gathered.errors[0];
  if (other) return `the relay answered ${other.code}${other.text ? ` ${other.text.replace(/\.$/, "")}` : ""}`;
  return "no answer from the relay";
}

/**
 * Sorts servers into STUN and TURN ones; bad input (not stun:/stuns:/turn:/turns:, or TURN
 * without a username and credential) throws a TypeError that names the entry.
 */
export function splitIceServers(iceServers: readonly RTCIceServer[]): { stun: RTCIceServer[]; turn: RTCIceServer[] } {
  if (!Array.isArray(iceServers)) throw new TypeError("iceServers must be an array of RTCIceServer objects");
  const stun: RTCIceServer[] = [];
  const turn: RTCIceServer[] = [];
  iceServers.forEach((server, index) => {
    const urls = typeof server?.urls === "string" ? [server.urls] : server?.urls;
    if (!Array.isArray(urls) || urls.length === 0 || !urls.every((url) => typeof url === "string")) {
      throw new TypeError(`iceServers[${index}].urls must be a URL or a non-empty array of URLs`);
    }
    const stunUrls: string[] = [];
    const turnUrls: string[] = [];
    for (const url of urls) {
      if (/^stuns?:\S+$/.test(url)) stunUrls.push(url);
      else if (/^turns?:\S+$/.test(url)) turnUrls.push(url);
      else throw new TypeError(`iceServers[${index}]: "${url}" is not a stun:, stuns:, turn: or turns: URL`);
    }
    if (stunUrls.length > 0) stun.push({ urls: stunUrls });
    if (turnUrls.length > 0) {
      if (!server.username || !server.credential) throw new TypeError(`iceServers[${index}]: a TURN server needs a username and a credential`);
      turn.push({ urls: turnUrls, username: server.username, credential: server.credential });
    }
  });
  return { stun, turn };
}
