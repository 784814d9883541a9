/**
 * Fuzzed credentials: session tokens (valid, garbage, tampered, signed with another secret,
 * expired, for sessions that are gone or belong to someone else) and the `authorization`
 * headers that carry them. Each says how the server must judge it.
 */
import fc from "fast-check";
import { TokenSigner } from "../../src/auth/tokens.js";
import { TOKEN_SECRET, TOKEN_TTL_MS, type AuthCase, type Member, type TokenCase, type World } from "./model.js";

const printableNoSpace = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));
const BASE64URL = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];

function replaceCharAt(value: string, index: number, pick: number): string {
  const i = index % value.length;
  const current = value[i] ?? "";
  const options = BASE64URL.filter((c) => c !== current);
  return value.slice(0, i) + (options[pick % options.length] ?? "A") + value.slice(i + 1);
}

/** Tokens and headers for `world`; tokens of sessions that do not exist name one of `someUserId`. */
export function credentials(world: World, someUserId: fc.Arbitrary<string>) {
  const member = fc.constantFrom(...world.members.values());
  const serverSigner = new TokenSigner(TOKEN_SECRET, TOKEN_TTL_MS);
  const otherSigner = new TokenSigner("some-other-secret", TOKEN_TTL_MS);

  const tokenCase: fc.Arbitrary<TokenCase> = fc.oneof(
    {
      weight: 14,
      arbitrary: member.map((m): TokenCase => ({ label: "valid", token: m.token, verdict: { kind: "live", userId: m.userId } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: printableNoSpace, minLength: 1, maxLength: 300 })
        .map((token): TokenCase => ({ label: "garbage", token, verdict: { kind: "invalid" } })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom("v1", "v2", "", "V1"), fc.base64String({ maxLength: 80 }), fc.base64String({ maxLength: 60 }))
        .map(([version, claims, mac]): TokenCase => ({
          label: "garbage",
          token: `${version}.${claims.replaceAll("=", "")}.${mac.replaceAll("=", "")}`,
          verdict: { kind: "invalid" },
        })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(
          member,
          fc.constantFrom("claims", "mac", "swap-claims", "extra-part", "version", "truncate", "forged-user"),
          fc.nat(),
          fc.nat(),
          member,
        )
        .map(([m, how, index, pick, other]): TokenCase => {
          const [version = "", claims = "", mac = ""] = m.token.split(".");
          let token: string;
          switch (how) {
            case "claims":
              token = `${version}.${replaceCharAt(claims, index, pick)}.${mac}`;
              break;
            case "mac":
              token = `${version}.${claims}.${replaceCharAt(mac, index, pick)}`;
              break;
            case "swap-claims": {
              // Another user's claims under this token's signature (or, for the same user, a re-encoding).
              const otherClaims = other.token.split(".")[1] ?? "";
              token = otherClaims === claims ? `${version}.${claims}A.${mac}` : `${version}.${otherClaims}.${mac}`;
              break;
            }
            case "extra-part":
              token = `${m.token}.${BASE64URL[pick % BASE64URL.length] ?? "x"}`;
              break;
            case "version":
              token = `v2.${claims}.${mac}`;
              break;
            case "truncate":
              token = m.token.slice(0, -1 - (index % 5));
              break;
            case "forged-user": {
              // Edit the claims to name someone else, keeping the original signature.
              const decoded = JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as Record<string, unknown>;
              const u = other.userId === m.userId ? `${m.userId}x` : other.userId;
              const edited = Buffer.from(JSON.stringify({ ...decoded, u })).toString("base64url");
              token = `${version}.${edited}.${mac}`;
              break;
            }
          }
          return { label: "tampered", token, verdict: { kind: "invalid" } };
        }),
    },
    {
      weight: 1,
      arbitrary: member.map((m): TokenCase => ({
        label: "other-secret",
        token: otherSigner.sign(m.userId, m.sessionId),
        verdict: { kind: "invalid" },
      })),
    },
    {
      weight: 1,
      arbitrary: member.map((m): TokenCase => ({
        label: "expired",
        token: serverSigner.sign(m.userId, m.sessionId, Date.now() - TOKEN_TTL_MS - 60_000),
        verdict: { kind: "invalid" },
      })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(someUserId, fc.uuid()).map(([userId, sessionId]): TokenCase => ({
        label: "unknown-session",
        token: serverSigner.sign(userId, sessionId),
        verdict: { kind: "gone", userId },
      })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(member, member)
        .filter(([a, b]) => a.userId !== b.userId)
        .map(([owner, named]): TokenCase => ({
          label: "wrong-user",
          token: serverSigner.sign(named.userId, owner.sessionId),
          verdict: { kind: "mismatched", userId: named.userId, sessionOf: owner.userId },
        })),
    },
    {
      weight: 2,
      arbitrary: fc.constant<TokenCase>({
        label: "ended-session",
        token: world.ended.token,
        verdict: { kind: "gone", userId: world.ended.userId },
      }),
    },
  );

  const validAuth = (m: Member): AuthCase => ({ label: "valid", header: `Bearer ${m.token}`, verdict: { kind: "live", userId: m.userId } });
  /** A valid token of one of `userIds`: the scenarios below pick who sends. */
  const authAs = (...userIds: string[]) =>
    fc.constantFrom(...userIds).map((id) => {
      const m = world.members.get(id);
      if (!m) throw new Error(`${id} is not a member`);
      return validAuth(m);
    });
  const auth: fc.Arbitrary<AuthCase> = fc.oneof(
    { weight: 10, arbitrary: member.map(validAuth) },
    { weight: 12, arbitrary: tokenCase.map((t): AuthCase => ({ label: t.label, header: `Bearer ${t.token}`, verdict: t.verdict })) },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "no-header", header: undefined, verdict: { kind: "invalid" } }) },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "empty-header", header: "", verdict: { kind: "invalid" } }) },
    {
      weight: 1,
      // A well-formed token in a malformed header: the scheme is what is wrong.
      arbitrary: fc
        .tuple(
          fc.constantFrom("Basic ", "bearer ", "BEARER ", "Token ", "Bearer", "Bearer  ", "Bearer:"),
          tokenCase,
          fc.constantFrom("", " extra", " Bearer x"),
        )
        .map(([scheme, t, suffix]): AuthCase => ({ label: "bad-scheme", header: `${scheme}${t.token}${suffix}`, verdict: t.verdict })),
    },
    { weight: 1, arbitrary: fc.constant<AuthCase>({ label: "bad-scheme", header: "Bearer", verdict: { kind: "invalid" } }) },
  );

  return { tokenCase, auth, authAs };
}
