/** Limits every node enforces; documented in docs/PROTOCOL.md. Clients use them to validate early. */
export const LIMITS = {
  userIdMaxLength: 64,
  sdpMaxBytes: 64 * 1024,
  candidateMaxBytes: 2 * 1024,
  candidatesPerBatch: 64,
  /**
   * Largest encoded message either transport accepts: room for the largest valid request
   * (64 candidates of 2 KiB with their mid and ufrag, about 150 KiB), so the field limits,
   * which give clear messages, are what a client meets first.
   */
  messageMaxBytes: 256 * 1024,
} as const;

export const USER_ID_ALPHABET = "A-Z a-z 0-9 . _ -";
const USER_ID_PATTERN = /^[A-Za-z0-9._-]+$/;

/** Returns why `id` is not a valid user ID, or undefined when it is. */
export function userIdProblem(id: string): string | undefined {
  if (id.length === 0) return "An ID is required.";
  if (id.length > LIMITS.userIdMaxLength) {
    return `An ID is at most ${LIMITS.userIdMaxLength} characters (got ${id.length}).`;
  }
  if (!USER_ID_PATTERN.test(id)) {
    return `An ID may only use letters, digits, '.', '_' and '-'.`;
  }
  return undefined;
}
