/**
 * Raw clients for the raw-frame fuzz: a request's bytes written as they are over node:http2
 * (native gRPC) or a raw HTTP/1.1 connection (gRPC-Web), and the gRPC status that came back.
 */
import * as http2 from "node:http2";
import type { Socket } from "node:net";
import { ERROR_REASON_KEY, ErrorReason } from "@peertobeer/protocol";
import { rawConnection, readResponse } from "../raw-http.js";
import { PREFIX_BYTES, type RawRequest } from "./frames.js";
import { statusName, type Observed } from "./send.js";

/** Each request must be answered within this; otherwise it is counted as a hang. */
export const SETTLE_MS = 5_000;

const TRAILER_FLAG = 0x80;

function answer(code: string): Observed {
  return { code, reason: null, callId: null };
}

/** The gRPC status in `fields` (trailers, or the headers of a trailers-only response). */
function statusIn(fields: Record<string, string | string[] | undefined>): Observed | undefined {
  const status = fields["grpc-status"];
  if (typeof status !== "string") return undefined;
  const one = (key: string) => {
    const value = fields[key];
    return typeof value === "string" ? value : null;
  };
  return { code: status === "0" ? "OK" : statusName(Number(status)), reason: one(ERROR_REASON_KEY), callId: one("p2b-call-id") };
}

/** Sends `raw` on its own stream of `session`; an unfinished body is cancelled once answered. */
export function sendNative(session: http2.ClientHttp2Session, raw: RawRequest): Promise<Observed> {
  return new Promise((resolve) => {
    const headers: http2.OutgoingHttpHeaders = { ":method": "POST", ":path": raw.path, "content-type": "application/grpc", te: "trailers" };
    if (raw.auth.header !== undefined) headers.authorization = raw.auth.header;
    const empty = raw.parts.every((part) => part.length === 0);
    // An empty body in one piece ends with the headers; in several, with an empty DATA frame.
    const stream = session.request(headers, { endStream: raw.ends && empty && raw.parts.length === 1 });
    let seen: Observed | undefined;
    const timer = setTimeout(() => {
      resolve(answer("HANG"));
      stream.close(http2.constants.NGHTTP2_CANCEL);
    }, SETTLE_MS);
    const answered = (observed: Observed) => {
      seen ??= observed;
      if (!raw.ends) stream.close(http2.constants.NGHTTP2_CANCEL);
    };
    stream.on("response", (h) => {
      if (h[":status"] !== 200) answered(answer(`HTTP_${h[":status"]}`));
      else if (h["content-type"] !== "application/grpc+proto") answered(answer(`CONTENT_TYPE ${h["content-type"]}`));
      else {
        const status = statusIn(h);
        if (status) answered(status);
      }
    });
    stream.on("trailers", (t) => answered(statusIn(t) ?? answer("NO_STATUS")));
    stream.on("error", (error: NodeJS.ErrnoException) => answered(answer(`STREAM_ERROR ${error.code ?? error.message}`)));
    stream.on("close", () => {
      clearTimeout(timer);
      resolve(seen ?? answer(`CLOSED rst=${stream.rstCode}`));
    });
    stream.resume(); // a refusal has no messages; anything else is drained
    for (const part of raw.parts) if (part.length > 0) stream.write(part);
    if (raw.ends && !stream.writableEnded) stream.end();
  });
}

/** The status in a gRPC-Web response body: its trailer frame, after any messages. */
function statusInBody(body: Buffer): Observed {
  let offset = 0;
  while (offset + PREFIX_BYTES <= body.length) {
    const flags = body[offset] ?? 0;
    const length = body.readUInt32BE(offset + 1);
    const frame = body.subarray(offset + PREFIX_BYTES, offset + PREFIX_BYTES + length);
    offset += PREFIX_BYTES + length;
    if ((flags & TRAILER_FLAG) === 0) continue;
    const trailers: Record<string, string> = {};
    for (const line of frame.toString("latin1").split("\r\n")) {
      const colon = line.indexOf(":");
      if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return statusIn(trailers) ?? answer("NO_STATUS");
  }
  return answer("NO_TRAILER_FRAME");
}

/**
 * Raw HTTP/1.1 connections to the web port, kept alive between requests as a browser's are:
 * a malformed request must not spoil its connection for the next one. A connection is dropped
 * after a body the client did not finish, and after a refusal as too large (the server closes
 * that connection shortly after, whatever it carries by then: see the BUG in frame-fuzz.test.ts).
 */
export class WebConnections {
  private readonly idle: Socket[] = [];
  private readonly all = new Set<Socket>();

  constructor(private readonly port: number) {}

  async send(raw: RawRequest): Promise<Observed> {
    const socket = this.idle.pop() ?? (await this.open());
    const headers = [
      `POST ${raw.path} HTTP/1.1`,
      "host: 127.0.0.1",
      "content-type: application/grpc-web+proto",
      "x-grpc-web: 1",
      ...(raw.auth.header === undefined ? [] : [`authorization: ${raw.auth.header}`]),
      raw.framing.kind === "sized" ? `content-length: ${raw.framing.contentLength}` : "transfer-encoding: chunked",
    ];
    socket.write(`${headers.join("\r\n")}\r\n\r\n`, "latin1");
    for (const part of raw.parts) {
      if (part.length === 0) continue; // an empty chunk would end a chunked body
      if (raw.framing.kind === "chunked") socket.write(`${part.length.toString(16)}\r\n`, "latin1");
      socket.write(part);
      if (raw.framing.kind === "chunked") socket.write("\r\n", "latin1");
    }
    if (raw.ends && raw.framing.kind === "chunked") socket.write("0\r\n\r\n", "latin1");

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<Observed>((resolve) => (timer = setTimeout(() => resolve(answer("HANG")), SETTLE_MS)));
    const response = readResponse(socket).then(
      ({ status, body }) => (status === 200 ? statusInBody(Buffer.from(body, "latin1")) : answer(`HTTP_${status}`)),
      (error: Error) => answer(`CONNECTION_LOST ${error.message}`),
    );
    const observed = await Promise.race([response, timeout]);
    clearTimeout(timer);
    const reusable = raw.ends && observed.reason !== ErrorReason.MESSAGE_TOO_LARGE && !observed.code.startsWith("CONNECTION_LOST");
    if (reusable && observed.code !== "HANG" && !socket.destroyed) this.idle.push(socket);
    else this.drop(socket);
    return observed;
  }

  closeAll(): void {
    for (const socket of this.all) socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  private async open(): Promise<Socket> {
    const socket = await rawConnection(this.port);
    socket.on("error", () => undefined); // e.g. writing to a connection the server closed; "close" follows
    this.all.add(socket);
    socket.once("close", () => {
      this.all.delete(socket);
      const index = this.idle.indexOf(socket);
      if (index >= 0) this.idle.splice(index, 1);
    });
    return socket;
  }

  private drop(socket: Socket): void {
    socket.destroy();
    this.all.delete(socket);
  }
}
