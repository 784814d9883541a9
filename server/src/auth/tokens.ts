import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface TokenClaims {
  userId: string;
  sessionId: string;
  /** Expiry, ms since the epoch. */
  expiresAt: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; problem: string };

/**
 * Session tokens: `v1.<claims>.<HMAC-SHA256>`, base64url. Signed rather than stored so any node
 * sharing TOKEN_SECRET can verify them.
 */
export class TokenSigner {
  private readonly secret: Buffer;

  constructor(secret: string | undefined, private readonly ttlMs: number) {
    // A random secret per process is safe for one node; a cluster must share TOKEN_SECRET.
    this.secret = secret ? Buffer.from(secret, "utf8") : randomBytes(32);
  }

  sign(userId: string, sessionId: string, now = Date.now()): string {
    const claims = Buffer.from(JSON.stringify({ u: userId, s: sessionId, e: this.expiryOf(now) })).toString("base64url");
    return `v1.${claims}.${this.mac(claims)}`;
  }

  verify(token: string, now = Date.now()): TokenCheck {
    const [version, claims, mac, extra] = token.split(".");
    if (version !== "v1" || !claims || !mac || extra !== undefined) return { ok: false, problem: "malformed token" };
    const expected = Buffer.from(this.mac(claims), "utf8");
    const given = Buffer.from(mac, "utf8");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, problem: "token signature does not match" };
    }
    const parsed = parseClaims(claims);
    if (!parsed) return { ok: false, problem: "malformed token" };
    if (parsed.expiresAt <= now) return { ok: false, problem: "token expired" };
    return { ok: true, claims: parsed };
  }

  /** When a token signed at `now` expires. */
  expiryOf(now: number): number {
    return now + this.ttlMs;
  }

  private mac(claims: string): string {
    return createHmac("sha256", this.secret).update(claims).digest("base64url");
  }
}

function parseClaims(encoded: string): TokenClaims | undefined {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.u !== "string" || typeof v.s !== "string" || typeof v.e !== "number") return undefined;
  return { userId: v.u, sessionId: v.s, expiresAt: v.e };
}
