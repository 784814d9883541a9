/** gRPC's length-prefixed messages, shared by the lean clients (h2.ts, h1.ts, raw.ts). */

export const TRAILER_FLAG = 0x80;

/** What one gRPC call on a lean connection hears: each message's bytes, then its end once. */
export interface GrpcCall {
  onMessage(bytes: Buffer): void;
  /** Without an error when the call ended with grpc-status 0. */
  onEnd(error?: Error): void;
}

/** Length-prefixed message frame: flag 0, big-endian length, the bytes. */
export function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** Splits a byte stream into frames as chunks arrive. */
export class Deframer {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (flag: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 5) {
      const length = this.buffered.readUInt32BE(1);
      if (this.buffered.length < 5 + length) return;
      const flag = this.buffered[0] ?? 0;
      const body = this.buffered.subarray(5, 5 + length);
      this.buffered = this.buffered.subarray(5 + length);
      this.onFrame(flag, body);
    }
  }

  /** Bytes of a frame begun and not finished (a truncated response). */
  get pending(): number {
    return this.buffered.length;
  }
}

/** "grpc-status: 3\r\ngrpc-message: …" (a gRPC-Web trailer frame) → its status and message. */
export function trailerStatus(text: string): { status: string; message: string } {
  const fields = new Map<string, string>();
  for (const line of text.split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: fields.get("grpc-status") ?? "", message: decodeURIComponent(fields.get("grpc-message") ?? "") };
}

export function statusError(method: string, status: string | undefined, message: string): Error {
  return new Error(`${method}: grpc-status ${status || "missing"}${message ? ` (${message})` : ""}`);
}
