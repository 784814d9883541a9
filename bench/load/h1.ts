/**
 * gRPC-Web over HTTP/1.1 keep-alive on plain TCP sockets, as a browser uses it (issue #17): one
 * socket per JoinCall stream, one reused for unary calls, one request at a time on each. The
 * request is written as bytes (its head kept per method and token), the response read by a
 * minimal parser: status line, Content-Length or chunked body, gRPC-Web frames with the status
 * in the trailer frame. node:http's client objects cost the B2 load processes more CPU than
 * the server spent; this costs a fraction. Anything unexpected fails the call with what came.
 */
import * as net from "node:net";
import { Deframer, statusError, TRAILER_FLAG, trailerStatus, type GrpcCall } from "./grpc-frame.js";
import type { WireCounter } from "./wire.js";

const CRLF = Buffer.from("\r\n", "latin1");
const HEAD_END = Buffer.from("\r\n\r\n", "latin1");
/** A response head longer than this is not one our server sends. */
const MAX_HEAD = 16_384;
const SWEEP_MS = 1_000;

interface Exchange {
  method: string;
  call: GrpcCall;
  deframer: Deframer;
  status: { status: string; message: string } | undefined;
  deadline: number;
  request: Buffer;
}

/** Reads one HTTP/1.1 response after another from a socket; knows only what our server sends. */
class ResponseReader {
  private buffered: Buffer = Buffer.alloc(0);
  private state: "head" | "length" | "chunk-size" | "chunk" | "chunk-end" | "trailer" = "head";
  private remaining = 0;
  /** The server said `Connection: close`: this socket takes no more requests. */
  closing = false;

  constructor(
    private readonly onBody: (bytes: Buffer) => void,
    private readonly onDone: () => void,
    private readonly onError: (what: string) => void,
  ) {}

  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      if (this.state === "head") {
        const end = this.buffered.indexOf(HEAD_END);
        if (end < 0) {
          if (this.buffered.length > MAX_HEAD) this.onError(`a response head over ${MAX_HEAD} bytes`);
          return;
        }
        const head = this.buffered.toString("latin1", 0, end);
        this.buffered = this.buffered.subarray(end + 4);
        if (!this.readHead(head)) return;
        continue;
      }
      if (this.state === "length" || this.state === "chunk") {
        if (this.buffered.length === 0) return;
        const take = Math.min(this.remaining, this.buffered.length);
        const body = this.buffered.subarray(0, take);
        this.buffered = this.buffered.subarray(take);
        this.remaining -= take;
        this.onBody(body);
        if (this.remaining > 0) return;
        if (this.state === "length") this.done();
        else this.state = "chunk-end";
        continue;
      }
      // chunk-size, chunk-end, trailer: a line each.
      const eol = this.buffered.indexOf(CRLF);
      if (eol < 0) return;
      const line = this.buffered.toString("latin1", 0, eol);
      this.buffered = this.buffered.subarray(eol + 2);
      if (this.state === "chunk-end") {
        if (line !== "") return this.onError(`"${line.slice(0, 40)}" after a chunk instead of its CRLF`);
        this.state = "chunk-size";
      } else if (this.state === "chunk-size") {
        const size = Number.parseInt(line, 16);
        if (!Number.isFinite(size) || size < 0) return this.onError(`a chunk size of "${line.slice(0, 40)}"`);
        if (size === 0) this.state = "trailer";
        else {
          this.remaining = size;
          this.state = "chunk";
        }
      } else if (line === "") {
        this.done();
      }
      // Other trailer lines: HTTP trailers, which gRPC-Web does not use; skipped.
    }
  }

  /** The status line and the headers that frame the body; false once it reported an error. */
  private readHead(head: string): boolean {
    const lines = head.split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (!status) {
      this.onError(`"${(lines[0] ?? "").slice(0, 60)}" instead of a status line`);
      return false;
    }
    let length: number | undefined;
    let chunked = false;
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] ?? "";
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      if (name === "content-length") length = Number(line.slice(colon + 1));
      else if (name === "transfer-encoding") chunked = /chunked/i.test(line.slice(colon + 1));
      else if (name === "connection") this.closing = /close/i.test(line.slice(colon + 1));
    }
    if (status[1] !== "200") {
      this.onError(`HTTP status ${status[1]}`);
      return false;
    }
    if (chunked) this.state = "chunk-size";
    else if (length !== undefined && Number.isInteger(length) && length >= 0) {
      this.remaining = length;
      this.state = "length";
      if (length === 0) this.done();
    } else {
      this.onError("a response with neither Content-Length nor chunked encoding");
      return false;
    }
    return true;
  }

  private done(): void {
    this.state = "head";
    this.onDone();
  }
}

/**
 * One socket, one request at a time: the JoinCall stream's own socket, or the keep-alive one
 * unary calls take turns on. A socket the server closes is replaced for the next request.
 */
class Lane {
  private socket: net.Socket | undefined;
  private reader: ResponseReader | undefined;
  private current: Exchange | undefined;
  private readonly waiting: Exchange[] = [];

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly wire: WireCounter | undefined,
  ) {}

  send(exchange: Exchange): void {
    if (this.current) this.waiting.push(exchange);
    else this.start(exchange);
  }

  private start(exchange: Exchange): void {
    this.current = exchange;
    const socket = this.socket ?? this.open();
    socket.write(exchange.request);
  }

  private open(): net.Socket {
    const socket = this.wire ? this.wire.connect(this.port, this.host) : net.connect({ port: this.port, host: this.host, noDelay: true });
    const reader = new ResponseReader(
      (bytes) => this.current?.deframer.push(bytes),
      () => this.completed(),
      (what) => this.broken(new Error(`${this.current?.method ?? "response"}: the server sent ${what}`)),
    );
    socket.on("data", (chunk: Buffer) => {
      if (this.socket === socket) reader.push(chunk);
    });
    socket.on("error", (error) => {
      if (this.socket === socket) this.broken(new Error(`${this.current?.method ?? "request"}: ${error.message}`));
    });
    socket.on("close", () => {
      if (this.socket === socket) this.broken(new Error(`${this.current?.method ?? "request"}: the connection closed`));
    });
    this.socket = socket;
    this.reader = reader;
    return socket;
  }

  private completed(): void {
    const exchange = this.current;
    if (!exchange) return;
    this.current = undefined;
    if (this.reader?.closing) this.drop();
    if (exchange.deframer.pending > 0) exchange.call.onEnd(new Error(`${exchange.method}: the response ended inside a message`));
    else exchange.call.onEnd(exchange.status?.status === "0" ? undefined : statusError(exchange.method, exchange.status?.status, exchange.status?.message ?? ""));
    const next = this.waiting.shift();
    if (next) this.start(next);
  }

  /** The socket is unusable: the request on it fails, the next ones go on a new socket. */
  private broken(error: Error): void {
    this.drop();
    const exchange = this.current;
    this.current = undefined;
    exchange?.call.onEnd(error);
    const next = this.waiting.shift();
    if (next) this.start(next);
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.reader = undefined;
    socket?.destroy();
  }

  /** Fails the request past its deadline (and drops its socket: its answer may still come). */
  expire(now: number): void {
    if (this.current && this.current.deadline < now) this.broken(new Error(`${this.current.method}: no answer within the step timeout`));
    const late = this.waiting.filter((exchange) => exchange.deadline < now);
    for (const exchange of late) {
      this.waiting.splice(this.waiting.indexOf(exchange), 1);
      exchange.call.onEnd(new Error(`${exchange.method}: no answer within the step timeout`));
    }
  }

  /** Cancels `exchange`: its socket goes (a browser aborting a fetch closes it too). */
  cancel(exchange: Exchange, error: Error): void {
    if (this.current === exchange) return this.broken(error);
    const at = this.waiting.indexOf(exchange);
    if (at < 0) return;
    this.waiting.splice(at, 1);
    exchange.call.onEnd(error);
  }

  close(): void {
    const pending = [...(this.current ? [this.current] : []), ...this.waiting];
    this.current = undefined;
    this.waiting.length = 0;
    this.drop();
    for (const exchange of pending) exchange.call.onEnd(new Error(`${exchange.method}: the connection closed`));
  }
}

/** One simulated browser's gRPC-Web connections to one server. */
export class Http1GrpcWebConnection {
  private readonly unary: Lane;
  private readonly streams = new Set<Lane>();
  private readonly heads = new Map<string, { authorization: string | undefined; head: string }>();
  private readonly sweep: ReturnType<typeof setInterval>;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly wire: WireCounter | undefined,
  ) {
    this.unary = new Lane(host, port, wire);
    this.sweep = setInterval(() => {
      const now = performance.now();
      this.unary.expire(now);
      for (const lane of this.streams) lane.expire(now);
    }, SWEEP_MS);
    this.sweep.unref();
  }

  /** The request head up to Content-Length's value, kept per method and token. */
  private head(method: string, path: string, authorization: string | undefined): string {
    const kept = this.heads.get(method);
    if (kept && kept.authorization === authorization) return kept.head;
    const head =
      `POST ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n` +
      `Content-Type: application/grpc-web+proto\r\nX-Grpc-Web: 1\r\n` +
      (authorization ? `Authorization: ${authorization}\r\n` : "") +
      "Content-Length: ";
    this.heads.set(method, { authorization, head });
    return head;
  }

  /**
   * Starts a call; `stream` gives it a socket of its own (JoinCall). A call not ended within
   * `timeoutMs` fails. Returns a function that cancels it.
   */
  request(method: string, path: string, authorization: string | undefined, body: Buffer, call: GrpcCall, timeoutMs: number, stream: boolean): () => void {
    const head = this.head(method, path, authorization);
    const length = String(body.length);
    const request = Buffer.allocUnsafe(head.length + length.length + 4 + body.length);
    let at = request.write(head, 0, "latin1");
    at += request.write(length, at, "latin1");
    at += request.write("\r\n\r\n", at, "latin1");
    body.copy(request, at);
    const exchange: Exchange = {
      method,
      call,
      status: undefined,
      deadline: performance.now() + timeoutMs,
      request,
      deframer: new Deframer((flag, bytes) => {
        if (flag & TRAILER_FLAG) exchange.status = trailerStatus(bytes.toString("latin1"));
        else call.onMessage(bytes);
      }),
    };
    const lane = stream ? new Lane(this.host, this.port, this.wire) : this.unary;
    if (stream) this.streams.add(lane);
    lane.send(exchange);
    return () => {
      lane.cancel(exchange, new Error(`${method}: cancelled`));
      if (stream) {
        lane.close();
        this.streams.delete(lane);
      }
    };
  }

  close(): void {
    clearInterval(this.sweep);
    this.unary.close();
    for (const lane of this.streams) lane.close();
    this.streams.clear();
  }
}
