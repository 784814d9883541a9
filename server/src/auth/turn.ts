import { createHmac } from "node:crypto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { IceServerSchema } from "@peertobeer/protocol";

export interface TurnConfig {
  urls: string[];
  /** The TURN server's shared secret (coturn: use-auth-secret, static-auth-secret). */
  secret: string;
  ttlSeconds: number;
}

/**
 * Ephemeral TURN credentials (the "TURN REST API" coturn and most TURN servers implement):
 * the username is `<expiry unix time>:<user id>`, the password HMAC-SHA1(secret, username) in
 * base64. The TURN server checks both without asking us, and no long-lived password reaches a
 * browser.
 */
export function turnServer(config: TurnConfig, userId: string, now = Date.now()): MessageInitShape<typeof IceServerSchema> {
  const username = `${Math.floor(now / 1000) + config.ttlSeconds}:${userId}`;
  const credential = createHmac("sha1", config.secret).update(username).digest("base64");
  return { urls: config.urls, username, credential };
}
