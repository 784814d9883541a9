import type { MessageInitShape } from "@bufbuild/protobuf";
import { IceTransportPolicy, type IceServerSchema } from "@peertobeer/protocol";
import type { TurnConfig } from "./auth/turn.js";

export type IceServerInit = MessageInitShape<typeof IceServerSchema>;

export interface Config {
  host: string;
  port: number;
  grpcPort: number;
  iceServers: IceServerInit[];
  /** TURN servers for which each session gets credentials of its own, or undefined. */
  turn: TurnConfig | undefined;
  iceTransportPolicy: IceTransportPolicy;
  tokenSecret: string | undefined;
  tokenTtlMs: number;
  ringTimeoutMs: number;
  /** How many people a call may hold, invitees included (2 keeps calls 1:1). */
  maxCallParticipants: number;
  /** Handed to clients in `joined`: how long a call may try to connect before it fails. */
  connectTimeoutMs: number;
  heartbeatMs: number;
  sessionGraceMs: number;
  drainTimeoutMs: number;
  maxSessions: number;
  streamQueueLimit: number;
  rateLimitPerSec: number;
  rateLimitBurst: number;
  webRoot: string;
  logLevel: string;
  /** Cluster mode: the Redis every node shares, or undefined for one node in memory. */
  redisUrl: string | undefined;
  /** Key prefix in Redis; nodes of one deployment share it. */
  redisPrefix: string;
  /** PEM files that make the web port serve HTTPS (and HTTP/2), or undefined for plain HTTP. */
  tls: { certPath: string; keyPath: string } | undefined;
}

export const DEFAULT_ICE_SERVERS = "stun:stun.l.google.com:19302";

/** Reads the configuration from environment variables (the README lists each one). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    host: env.HOST ?? "0.0.0.0",
    port: port(env, "PORT", 8080),
    grpcPort: port(env, "GRPC_PORT", 50051),
    iceServers: parseIceServers(env.ICE_SERVERS ?? DEFAULT_ICE_SERVERS),
    turn: parseTurn(env),
    iceTransportPolicy: parseIceTransportPolicy(env.ICE_TRANSPORT_POLICY),
    tokenSecret: env.TOKEN_SECRET || undefined,
    tokenTtlMs: positiveInt(env, "TOKEN_TTL_MS", 24 * 60 * 60 * 1000),
    ringTimeoutMs: positiveInt(env, "RING_TIMEOUT_MS", 30_000),
    maxCallParticipants: callSize(env),
    connectTimeoutMs: positiveInt(env, "CONNECT_TIMEOUT_MS", 15_000),
    heartbeatMs: positiveInt(env, "HEARTBEAT_MS", 5_000),
    sessionGraceMs: positiveInt(env, "SESSION_GRACE_MS", 20_000),
    drainTimeoutMs: positiveInt(env, "DRAIN_TIMEOUT_MS", 5_000),
    maxSessions: positiveInt(env, "MAX_SESSIONS", 20_000),
    streamQueueLimit: positiveInt(env, "STREAM_QUEUE_LIMIT", 256),
    rateLimitPerSec: positiveInt(env, "RATE_LIMIT_PER_SEC", 20),
    rateLimitBurst: positiveInt(env, "RATE_LIMIT_BURST", 60),
    webRoot: env.WEB_ROOT ?? new URL("../../web/dist", import.meta.url).pathname,
    logLevel: env.LOG_LEVEL ?? "info",
    tls: parseTls(env),
    ...parseCluster(env),
  };
}

function parseTls(env: NodeJS.ProcessEnv): Config["tls"] {
  const certPath = env.TLS_CERT ?? "";
  const keyPath = env.TLS_KEY ?? "";
  if (certPath === "" && keyPath === "") return undefined;
  if (certPath === "" || keyPath === "") throw new Error("TLS_CERT and TLS_KEY go together: set both (PEM file paths) or neither");
  return { certPath, keyPath };
}

/** REDIS_URL turns on cluster mode, where every node must verify every node's tokens. */
function parseCluster(env: NodeJS.ProcessEnv): Pick<Config, "redisUrl" | "redisPrefix"> {
  const redisUrl = env.REDIS_URL || undefined;
  if (redisUrl !== undefined) {
    if (!/^rediss?:\/\//.test(redisUrl)) throw new Error(`REDIS_URL must be a redis:// or rediss:// URL, got "${redisUrl}"`);
    if (!env.TOKEN_SECRET) {
      throw new Error("TOKEN_SECRET is required with REDIS_URL: every node must verify the session tokens the others issue");
    }
  }
  const redisPrefix = env.REDIS_PREFIX ?? "p2b";
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(redisPrefix)) throw new Error(`REDIS_PREFIX must be 1-32 of A-Z a-z 0-9 _ . -, got "${redisPrefix}"`);
  return { redisUrl, redisPrefix };
}

/**
 * ICE_SERVERS is either a comma-separated list of URLs (`stun:host:3478,turn:host:3478`) or a
 * JSON array of RTCIceServer objects (for TURN with static credentials). Empty means none.
 */
export function parseIceServers(value: string): IceServerInit[] {
  const text = value.trim();
  if (text === "") return [];
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`ICE_SERVERS is not valid JSON: ${(error as Error).message}`);
    }
    if (!Array.isArray(parsed)) throw new Error("ICE_SERVERS JSON must be an array of RTCIceServer objects");
    return parsed.map((entry: unknown, index) => {
      const server = entry as { urls?: unknown; username?: unknown; credential?: unknown };
      const urls = typeof server.urls === "string" ? [server.urls] : server.urls;
      if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === "string" && isIceUrl(u))) {
        throw new Error(`ICE_SERVERS[${index}].urls must be stun:/turn:/turns: URLs`);
      }
      return {
        urls: urls as string[],
        username: typeof server.username === "string" ? server.username : "",
        credential: typeof server.credential === "string" ? server.credential : "",
      };
    });
  }
  return text.split(",").map((raw) => {
    const url = raw.trim();
    if (!isIceUrl(url)) throw new Error(`ICE_SERVERS entry "${url}" is not a stun:, turn: or turns: URL`);
    return { urls: [url] };
  });
}

/** TURN_URLS (comma-separated turn:/turns: URLs) with TURN_SECRET; credentials per session. */
function parseTurn(env: NodeJS.ProcessEnv): TurnConfig | undefined {
  const urls = (env.TURN_URLS ?? "").split(",").map((u) => u.trim()).filter((u) => u !== "");
  const secret = env.TURN_SECRET ?? "";
  if (urls.length === 0 && secret === "") return undefined;
  if (urls.length === 0 || secret === "") throw new Error("TURN_URLS and TURN_SECRET go together: set both or neither");
  for (const url of urls) {
    if (!/^turns?:[^\s]+$/.test(url)) throw new Error(`TURN_URLS entry "${url}" is not a turn: or turns: URL`);
  }
  return { urls, secret, ttlSeconds: positiveInt(env, "TURN_CREDENTIAL_TTL_S", 24 * 60 * 60) };
}

function parseIceTransportPolicy(value: string | undefined): IceTransportPolicy {
  if (value === undefined || value === "" || value === "all") return IceTransportPolicy.ALL;
  if (value === "relay") return IceTransportPolicy.RELAY;
  throw new Error(`ICE_TRANSPORT_POLICY must be "all" or "relay", got "${value}"`);
}

function isIceUrl(url: string): boolean {
  return /^(stun|stuns|turn|turns):[^\s]+$/.test(url);
}

/** A full mesh past six people outgrows a home uplink: that is a media server's job. */
function callSize(env: NodeJS.ProcessEnv): number {
  const value = positiveInt(env, "MAX_CALL_PARTICIPANTS", 6);
  if (value < 2 || value > 16) throw new Error(`MAX_CALL_PARTICIPANTS must be 2 to 16, got "${value}"`);
  return value;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  // 0 asks the OS for a free port (tests).
  if (!Number.isInteger(value) || value < 0 || value > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return value;
}
