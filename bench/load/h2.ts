/**
 * Native gRPC on one HTTP/2 connection, framed by hand over a plain TCP socket (issue #17):
 * node:http2's client side (nghttp2 sessions, stream objects, header objects) cost the B2 load
 * processes more CPU per setup than the server spent, so they, not the server, set the pace.
 * This speaks just what a gRPC client needs (RFC 9113): the preface, SETTINGS, HEADERS with
 * CONTINUATION, DATA with flow control both ways, WINDOW_UPDATE, PING, RST_STREAM and GOAWAY;
 * header blocks through hpack.js (RFC 7541), with the dynamic table, as a browser's or
 * grpc-js's HTTP/2 stack sends them. Anything it does not expect fails the connection with
 * an error that says what came.
 */
import * as net from "node:net";
import hpack from "hpack.js";
import { Deframer, statusError, type GrpcCall } from "./grpc-frame.js";
import type { WireCounter } from "./wire.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const enum Type {
  DATA = 0,
  HEADERS = 1,
  PRIORITY = 2,
  RST_STREAM = 3,
  SETTINGS = 4,
  PUSH_PROMISE = 5,
  PING = 6,
  GOAWAY = 7,
  WINDOW_UPDATE = 8,
  CONTINUATION = 9,
}
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY_FLAG = 0x20;
const CANCEL = 0x8;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
const MAX_WINDOW = 2 ** 31 - 1;
/** Received bytes are given back (WINDOW_UPDATE) once this many are unacknowledged. */
const REPLENISH_AT = 2 ** 30;
/** RFC 9113's defaults: the peer's until its SETTINGS say otherwise, ours as we announce none. */
const DEFAULT_WINDOW = 65_535;
const DEFAULT_FRAME_SIZE = 16_384;
const TABLE_SIZE = 4_096;
const SWEEP_MS = 1_000;
const EMPTY = Buffer.alloc(0);

interface Stream {
  id: number;
  method: string;
  call: GrpcCall;
  deframer: Deframer;
  /** Whether the response's first HEADERS came; later HEADERS are trailers. */
  responded: boolean;
  grpcStatus: string | undefined;
  grpcMessage: string;
  sendWindow: number;
  /** Bytes received and not yet given back with WINDOW_UPDATE. */
  unacked: number;
  deadline: number;
}

/** DATA waiting for flow-control window. */
interface Outgoing {
  stream: Stream;
  body: Buffer;
}

function frameHeader(length: number, type: Type, flags: number, id: number): Buffer {
  const header = Buffer.allocUnsafe(9);
  header.writeUIntBE(length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(id, 5);
  return header;
}

function windowUpdate(id: number, increment: number): Buffer {
  const out = frameHeader(4, Type.WINDOW_UPDATE, 0, id);
  return Buffer.concat([out, Buffer.from([(increment >>> 24) & 0x7f, (increment >>> 16) & 0xff, (increment >>> 8) & 0xff, increment & 0xff])]);
}

/**
 * HPACK encoding with incremental indexing, as HTTP/2 stacks do. A user's header lists repeat
 * (five methods, one token), so once each field is in the table the block for a list no longer
 * changes: it is kept and re-sent until the table changes.
 */
class HeaderEncoder {
  private readonly table = hpack.table.create({ maxSize: TABLE_SIZE });
  private generation = 0;
  private readonly cache = new Map<string, { generation: number; block: Buffer; last: string }>();

  /**
   * hpack.js's reverseLookup stops at the newest entry with the name when the static table has
   * the name too (":path"), so a user's five paths would be re-added in turn; the dynamic
   * table is searched for the exact field before settling for a name.
   */
  private lookup(name: string, value: string): number {
    const index = this.table.reverseLookup(name, value);
    if (index > 0) return index;
    const dynamic = this.table.dynamic;
    for (let i = dynamic.length - 1; i >= 0; i--) {
      const entry = dynamic[i];
      if (entry && entry.name === name && entry.value === value) return this.table.length - i;
    }
    return index;
  }

  /** `key` names the list apart from `last`, its last field's value (the token, say). */
  encode(key: string, fields: readonly (readonly [string, string])[]): Buffer {
    const last = fields[fields.length - 1]?.[1] ?? "";
    const cached = this.cache.get(key);
    if (cached && cached.generation === this.generation && cached.last === last) return cached.block;
    const encoder = hpack.encoder.create();
    const before = this.generation;
    for (const [name, value] of fields) {
      const index = this.lookup(name, value);
      if (index > 0) {
        encoder.encodeBit(1);
        encoder.encodeInt(index);
        continue;
      }
      const nameBytes = hpack.utils.toArray(name);
      const valueBytes = hpack.utils.toArray(value);
      // Literal with incremental indexing: the index (a name match or 0) is the one before adding.
      encoder.encodeBit(0);
      encoder.encodeBit(1);
      this.table.add(name, value, nameBytes.length, valueBytes.length);
      this.generation += 1;
      encoder.encodeInt(-index);
      if (index === 0) encoder.encodeStr(nameBytes, true);
      encoder.encodeStr(valueBytes, true);
    }
    const block = Buffer.concat(encoder.render());
    // Only a block that added nothing to the table may be sent again as it is: re-sending one
    // that adds would add its fields to the server's table a second time, and not to ours.
    if (this.generation === before) this.cache.set(key, { generation: this.generation, block, last });
    return block;
  }
}

/**
 * HPACK decoding into the three fields a gRPC client checks; every field is decoded all the
 * same, so the dynamic table stays in step with the server's.
 */
class HeaderDecoder {
  private readonly table = hpack.table.create({ maxSize: TABLE_SIZE });

  decode(block: Buffer): { status?: string; grpcStatus?: string; grpcMessage?: string } {
    const decoder = hpack.decoder.create();
    decoder.push(block);
    const out: { status?: string; grpcStatus?: string; grpcMessage?: string } = {};
    while (!decoder.isEmpty()) {
      let name: string;
      let value: string;
      if (decoder.decodeBit()) {
        ({ name, value } = this.table.lookup(decoder.decodeInt()));
      } else {
        const incremental = decoder.decodeBit();
        if (!incremental && decoder.decodeBit()) {
          // Dynamic table size update.
          this.table.updateSize(decoder.decodeInt());
          continue;
        }
        if (!incremental) decoder.decodeBit(); // never-indexed or not: either way not added
        const index = decoder.decodeInt();
        let nameSize: number;
        if (index === 0) {
          const bytes = decoder.decodeStr();
          nameSize = bytes.length;
          name = hpack.utils.stringify(bytes);
        } else {
          name = this.table.lookup(index).name;
          nameSize = Buffer.byteLength(name);
        }
        const bytes = decoder.decodeStr();
        value = hpack.utils.stringify(bytes);
        if (incremental) this.table.add(name, value, nameSize, bytes.length);
      }
      if (name === ":status") out.status = value;
      else if (name === "grpc-status") out.grpcStatus = value;
      else if (name === "grpc-message") out.grpcMessage = decodeURIComponent(value);
    }
    return out;
  }
}

export class Http2GrpcConnection {
  private readonly socket: net.Socket;
  private readonly streams = new Map<number, Stream>();
  private readonly queue: Outgoing[] = [];
  private readonly encoder = new HeaderEncoder();
  private readonly decoder = new HeaderDecoder();
  private readonly sweep: ReturnType<typeof setInterval>;
  private readonly authority: string;
  private nextId = 1;
  private received: Buffer = EMPTY;
  /** A header block begun by HEADERS and not ended yet: CONTINUATION frames complete it. */
  private headerBlock: { id: number; flags: number; parts: Buffer[] } | undefined;
  private connectionWindow = DEFAULT_WINDOW;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = DEFAULT_FRAME_SIZE;
  private connectionUnacked = 0;
  private failure: Error | undefined;

  constructor(host: string, port: number, wire: WireCounter | undefined) {
    this.authority = `${host}:${port}`;
    this.socket = wire ? wire.connect(port, host) : net.connect({ port, host, noDelay: true });
    // Our SETTINGS: no push, every stream's window as large as allowed; then the connection's.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    this.socket.write(
      Buffer.concat([PREFACE, frameHeader(settings.length, Type.SETTINGS, 0, 0), settings, windowUpdate(0, MAX_WINDOW - DEFAULT_WINDOW)]),
    );
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("error", (error) => this.fail(new Error(`HTTP/2 connection to ${this.authority}: ${error.message}`)));
    this.socket.on("close", () => this.fail(new Error(`HTTP/2 connection to ${this.authority} closed`)));
    this.sweep = setInterval(() => this.expire(), SWEEP_MS);
    this.sweep.unref();
  }

  /**
   * Starts a call: HEADERS, then `body` as DATA ending the stream. A call not ended within
   * `timeoutMs` is cancelled. Returns a function that cancels it.
   */
  request(method: string, path: string, authorization: string | undefined, body: Buffer, call: GrpcCall, timeoutMs: number): () => void {
    if (this.failure) {
      call.onEnd(this.failure);
      return () => {};
    }
    const fields: [string, string][] = [
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", this.authority],
      ["content-type", "application/grpc+proto"],
      ["te", "trailers"],
    ];
    if (authorization) fields.push(["authorization", authorization]);
    const block = this.encoder.encode(method, fields);
    if (block.length > this.peerMaxFrame) throw new Error(`${method}: a ${block.length}-byte header block needs CONTINUATION, which this client does not send`);
    const id = this.nextId;
    this.nextId += 2;
    const stream: Stream = {
      id,
      method,
      call,
      deframer: new Deframer((_, bytes) => call.onMessage(bytes)),
      responded: false,
      grpcStatus: undefined,
      grpcMessage: "",
      sendWindow: this.peerInitialWindow,
      unacked: 0,
      deadline: performance.now() + timeoutMs,
    };
    this.streams.set(id, stream);
    const headers = frameHeader(block.length, Type.HEADERS, END_HEADERS, id);
    if (body.length <= Math.min(this.connectionWindow, stream.sendWindow, this.peerMaxFrame) && this.queue.length === 0) {
      // The usual case: one write with both frames.
      this.connectionWindow -= body.length;
      stream.sendWindow -= body.length;
      this.socket.write(Buffer.concat([headers, block, frameHeader(body.length, Type.DATA, END_STREAM, id), body]));
    } else {
      this.socket.write(Buffer.concat([headers, block]));
      this.queue.push({ stream, body });
      this.flush();
    }
    return () => this.cancel(stream, new Error(`${method}: cancelled`));
  }

  close(): void {
    clearInterval(this.sweep);
    this.fail(new Error(`HTTP/2 connection to ${this.authority} closed by the client`));
  }

  /** Sends queued DATA as far as the windows allow. */
  private flush(): void {
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (!next) return;
      const size = Math.min(next.body.length, this.connectionWindow, next.stream.sendWindow, this.peerMaxFrame);
      if (size <= 0 && next.body.length > 0) return;
      const last = size === next.body.length;
      this.connectionWindow -= size;
      next.stream.sendWindow -= size;
      this.socket.write(Buffer.concat([frameHeader(size, Type.DATA, last ? END_STREAM : 0, next.stream.id), next.body.subarray(0, size)]));
      if (last) this.queue.shift();
      else next.body = next.body.subarray(size);
    }
  }

  private onData(chunk: Buffer): void {
    const buffer = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    let at = 0;
    while (buffer.length - at >= 9 && !this.failure) {
      const length = buffer.readUIntBE(at, 3);
      if (length > DEFAULT_FRAME_SIZE) {
        this.protocolError(`a ${length}-byte frame (type ${buffer[at + 3]}), above the ${DEFAULT_FRAME_SIZE} bytes allowed`);
        return;
      }
      if (buffer.length - at < 9 + length) break;
      const type = buffer[at + 3] ?? 0;
      const flags = buffer[at + 4] ?? 0;
      const id = buffer.readUInt32BE(at + 5) & 0x7fffffff;
      const payload = buffer.subarray(at + 9, at + 9 + length);
      at += 9 + length;
      this.onFrame(type, flags, id, payload);
    }
    this.received = at === buffer.length ? EMPTY : buffer.subarray(at);
  }

  private onFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.headerBlock && type !== Type.CONTINUATION) {
      this.protocolError(`frame type ${type} in the middle of stream ${this.headerBlock.id}'s header block`);
      return;
    }
    switch (type) {
      case Type.DATA:
        return this.onDataFrame(flags, id, payload);
      case Type.HEADERS: {
        let block = payload;
        if (flags & PADDED) block = block.subarray(1, block.length - (block[0] ?? 0));
        if (flags & PRIORITY_FLAG) block = block.subarray(5);
        if (flags & END_HEADERS) return this.onHeaders(id, flags, block);
        this.headerBlock = { id, flags, parts: [block] };
        return;
      }
      case Type.CONTINUATION: {
        const pending = this.headerBlock;
        if (!pending || pending.id !== id) return this.protocolError(`CONTINUATION on stream ${id} without a header block begun`);
        pending.parts.push(payload);
        if (!(flags & END_HEADERS)) return;
        this.headerBlock = undefined;
        return this.onHeaders(id, pending.flags, Buffer.concat(pending.parts));
      }
      case Type.RST_STREAM: {
        const stream = this.streams.get(id);
        if (stream) this.end(stream, new Error(`${stream.method}: the server reset the stream (HTTP/2 error ${payload.readUInt32BE(0)})`));
        return;
      }
      case Type.SETTINGS:
        if (flags & ACK) return;
        return this.onSettings(payload);
      case Type.PING:
        if (!(flags & ACK)) this.socket.write(Buffer.concat([frameHeader(8, Type.PING, ACK, 0), payload]));
        return;
      case Type.GOAWAY: {
        const code = payload.readUInt32BE(4);
        const detail = payload.subarray(8).toString("utf8");
        return this.fail(new Error(`HTTP/2 connection to ${this.authority}: GOAWAY (error ${code}${detail ? `, ${detail}` : ""})`));
      }
      case Type.WINDOW_UPDATE: {
        const increment = payload.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) this.connectionWindow += increment;
        else {
          const stream = this.streams.get(id);
          if (stream) stream.sendWindow += increment;
        }
        return this.flush();
      }
      case Type.PUSH_PROMISE:
        return this.protocolError("PUSH_PROMISE, though push is disabled");
      default:
        // PRIORITY and unknown frame types carry nothing a client must act on (RFC 9113 §5.5).
        return;
    }
  }

  private onDataFrame(flags: number, id: number, payload: Buffer): void {
    // Every DATA byte (padding too) counts against the windows, whether its stream is known or not.
    this.connectionUnacked += payload.length;
    if (this.connectionUnacked >= REPLENISH_AT) {
      this.socket.write(windowUpdate(0, this.connectionUnacked));
      this.connectionUnacked = 0;
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    stream.unacked += payload.length;
    if (stream.unacked >= REPLENISH_AT && !(flags & END_STREAM)) {
      this.socket.write(windowUpdate(id, stream.unacked));
      stream.unacked = 0;
    }
    if (!stream.responded) return this.end(stream, new Error(`${stream.method}: DATA before the response's HEADERS`));
    const data = flags & PADDED ? payload.subarray(1, payload.length - (payload[0] ?? 0)) : payload;
    if (data.length > 0) stream.deframer.push(data);
    if (flags & END_STREAM) this.finish(stream);
  }

  private onHeaders(id: number, flags: number, block: Buffer): void {
    let fields: ReturnType<HeaderDecoder["decode"]>;
    try {
      fields = this.decoder.decode(block);
    } catch (error) {
      // The table is now out of step: nothing on this connection can be read any more.
      return this.protocolError(`a header block that does not decode (${error instanceof Error ? error.message : String(error)})`);
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    if (!stream.responded) {
      stream.responded = true;
      if (fields.status !== "200") return this.end(stream, new Error(`${stream.method}: HTTP status ${fields.status ?? "missing"}`));
    }
    // Trailers, or a trailers-only response (an error) in the first HEADERS.
    if (fields.grpcStatus !== undefined) stream.grpcStatus = fields.grpcStatus;
    if (fields.grpcMessage !== undefined) stream.grpcMessage = fields.grpcMessage;
    if (flags & END_STREAM) this.finish(stream);
  }

  private onSettings(payload: Buffer): void {
    if (payload.length % 6 !== 0) return this.protocolError(`a SETTINGS frame of ${payload.length} bytes`);
    for (let at = 0; at < payload.length; at += 6) {
      const id = payload.readUInt16BE(at);
      const value = payload.readUInt32BE(at + 2);
      if (id === SETTINGS_INITIAL_WINDOW_SIZE) {
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) stream.sendWindow += delta;
      } else if (id === SETTINGS_MAX_FRAME_SIZE) {
        this.peerMaxFrame = value;
      } else if (id === SETTINGS_HEADER_TABLE_SIZE && value < TABLE_SIZE) {
        return this.protocolError(`a header table of ${value} bytes; this client encodes for ${TABLE_SIZE}`);
      }
    }
    this.socket.write(frameHeader(0, Type.SETTINGS, ACK, 0));
    this.flush();
  }

  /** The stream ended: its status decides how the call ended. */
  private finish(stream: Stream): void {
    if (stream.deframer.pending > 0) return this.end(stream, new Error(`${stream.method}: the stream ended inside a message`));
    this.end(stream, stream.grpcStatus === "0" ? undefined : statusError(stream.method, stream.grpcStatus, stream.grpcMessage));
  }

  private end(stream: Stream, error: Error | undefined): void {
    if (!this.streams.delete(stream.id)) return;
    stream.call.onEnd(error);
  }

  private cancel(stream: Stream, error: Error): void {
    if (!this.streams.has(stream.id)) return;
    const code = Buffer.alloc(4);
    code.writeUInt32BE(CANCEL, 0);
    if (!this.failure) this.socket.write(Buffer.concat([frameHeader(4, Type.RST_STREAM, 0, stream.id), code]));
    const at = this.queue.findIndex((outgoing) => outgoing.stream === stream);
    if (at >= 0) this.queue.splice(at, 1);
    this.end(stream, error);
  }

  /** Calls past their deadline are cancelled: a step that waits too long fails its setup. */
  private expire(): void {
    const now = performance.now();
    for (const stream of this.streams.values()) {
      if (stream.deadline < now) this.cancel(stream, new Error(`${stream.method}: no answer within the step timeout`));
    }
  }

  private protocolError(what: string): void {
    this.fail(new Error(`HTTP/2 connection to ${this.authority}: the server sent ${what}`));
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    clearInterval(this.sweep);
    this.socket.destroy();
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.queue.length = 0;
    for (const stream of streams) stream.call.onEnd(error);
  }
}
