import type * as http from "node:http";
import { isIP } from "node:net";
import { turnServer, type TurnConfig } from "../auth/turn.js";
import type { IceServerInit } from "../config.js";
import { TokenBucket } from "../rpc/token-bucket.js";

/** Where the web port serves the ICE servers for the pre-call check. */
export const ICE_SERVERS_PATH = "/ice-servers";

/**
 * The longest a pre-call check's TURN credentials live: the check allocates once, within
 * seconds. Never longer than a session's (TURN_CREDENTIAL_TTL_S).
 */
export const PRECALL_TURN_TTL_S = 600;

/** The user part of the check's TURN usernames (`<expiry>:precall`): coturn logs it. */
const PRECALL_USER = "precall";

/** Per client address: a few checks at once, then one every 10 s. */
export const ICE_SERVERS_RATE = { burst: 10, perSecond: 0.1 };

export interface IceServersEndpointOptions {
  /** ICE_SERVERS: STUN (and static TURN) servers, handed out as configured. */
  iceServers: IceServerInit[];
  /** TURN_URLS with TURN_SECRET: minted credentials, as each session gets in `joined`. */
  turn: TurnConfig | undefined;
  now?: () => number;
}

/**
 * GET /ice-servers: the STUN/TURN servers a browser needs to check its network before it
 * joins (sessions get theirs in `joined`, which a check cannot wait for). TURN credentials are
 * minted by the same code as a session's (auth/turn.ts: expiry in the username, HMAC of it as
 * the password), so TURN_SECRET never leaves the server, and they expire within
 * PRECALL_TURN_TTL_S. Rate limited per client address, since each answer is a working
 * credential for the relay.
 */
export function createIceServersEndpoint(options: IceServersEndpointOptions) {
  const now = options.now ?? Date.now;
  const limiter = new AddressRateLimit(ICE_SERVERS_RATE.burst, ICE_SERVERS_RATE.perSecond, now);
  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return json(res, 405, { error: "Use GET." }, { allow: "GET, HEAD" });
    }
    if (!limiter.take(clientAddress(req))) {
      const retryAfter = Math.ceil(1 / ICE_SERVERS_RATE.perSecond);
      return json(res, 429, { error: `Too many requests; try again in ${retryAfter} s.` }, { "retry-after": String(retryAfter) });
    }
    const at = now();
    const servers: IceServerInit[] = [...options.iceServers];
    let expiresAt: string | undefined;
    if (options.turn) {
      const ttlSeconds = Math.min(options.turn.ttlSeconds, PRECALL_TURN_TTL_S);
      servers.push(turnServer({ ...options.turn, ttlSeconds }, PRECALL_USER, at));
      expiresAt = new Date((Math.floor(at / 1000) + ttlSeconds) * 1000).toISOString();
    }
    json(res, 200, { iceServers: servers.map(toRtcIceServer), ...(expiresAt && { expiresAt }) }, {}, req.method === "HEAD");
  };
}

/** An RTCIceServer as browsers take it: no empty username or credential on plain STUN. */
function toRtcIceServer(server: IceServerInit): { urls: string[]; username?: string; credential?: string } {
  return {
    urls: [...(server.urls ?? [])],
    ...(server.username ? { username: server.username } : {}),
    ...(server.credential ? { credential: server.credential } : {}),
  };
}

/**
 * The address to rate limit. A proxy on the same machine (deploy/nginx) makes every client
 * look like 127.0.0.1, so from a loopback peer only, the address the proxy appended to
 * X-Forwarded-For is used; anyone else could write that header themselves.
 */
export function clientAddress(req: http.IncomingMessage): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (!isLoopback(peer)) return peer;
  const forwarded = req.headers["x-forwarded-for"];
  const last = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded ?? "").split(",").at(-1)?.trim() ?? "";
  return isIP(last) ? last : peer;
}

function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** One token bucket per address; idle addresses are forgotten so the map stays bounded by recent clients. */
class AddressRateLimit {
  private readonly buckets = new Map<string, { bucket: TokenBucket; usedAt: number }>();
  private sweptAt: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {
    this.sweptAt = now();
  }

  take(address: string): boolean {
    const at = this.now();
    // A bucket left alone this long is full again: forgetting it changes nothing.
    const refillMs = (this.burst / this.perSecond) * 1000;
    if (at - this.sweptAt > refillMs) {
      for (const [key, entry] of this.buckets) if (at - entry.usedAt > refillMs) this.buckets.delete(key);
      this.sweptAt = at;
    }
    let entry = this.buckets.get(address);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.burst, this.perSecond, this.now), usedAt: at };
      this.buckets.set(address, entry);
    }
    entry.usedAt = at;
    return entry.bucket.take();
  }
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, headOnly = false): void {
  const text = `${JSON.stringify(body)}\n`;
  // no-store: the answer holds credentials, and each is minted for one check.
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(headOnly ? undefined : text);
}
