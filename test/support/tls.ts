import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Certificate {
  certPath: string;
  keyPath: string;
  /** The certificate itself (PEM), for clients that should trust it. */
  cert: Buffer;
}

/**
 * A fresh self-signed certificate for 127.0.0.1 and localhost, made with openssl the way
 * README tells people to make one for their LAN address.
 */
export function selfSignedCertificate(): Certificate {
  const dir = mkdtempSync(join(tmpdir(), "p2b-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", keyPath, "-out", certPath, "-days", "2", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return { certPath, keyPath, cert: readFileSync(certPath) };
}
