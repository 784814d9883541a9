import * as http from "node:http";
import { pino, type Logger } from "pino";
import { expect } from "vitest";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  ERROR_REASON_KEY,
  IceCandidateSchema,
  SignalingService,
  type ErrorReason,
  type IceCandidate,
  type Joined,
  type SignalingMessage,
} from "@peertobeer/protocol";
import { loadConfig, type Config } from "../src/config.js";
import type { HubOptions, Sink } from "../src/hub/index.js";
import { startServer, type RunningServer } from "../src/server.js";

export type SignalingClient = Client<typeof SignalingService>;
export type EventCase = NonNullable<SignalingMessage["event"]["case"]>;
/** A SignalingMessage whose oneof is known to be `K`. */
export type MessageOf<K extends EventCase> = SignalingMessage & {
  event: Extract<SignalingMessage["event"], { case: K }>;
};

export const HUB_OPTIONS: HubOptions = {
  ringTimeoutMs: 30_000,
  sessionGraceMs: 20_000,
  heartbeatMs: 5_000,
  historyLimit: { events: 16, bytes: 1024 * 1024 },
  maxCallParticipants: 6,
};

export function isEvent<K extends EventCase>(message: SignalingMessage, kind: K): message is MessageOf<K> {
  return message.event.case === kind;
}

/** Collects what the hub pushes to one stream, synchronously, for tests without sockets. */
export class CollectingSink implements Sink {
  readonly messages: SignalingMessage[] = [];
  ended = false;

  push(message: SignalingMessage): void {
    this.messages.push(message);
  }

  replay(messages: readonly SignalingMessage[]): void {
    this.messages.push(...messages);
  }

  end(): void {
    this.ended = true;
  }

  /** Returns the messages received since the last take. */
  take(): SignalingMessage[] {
    return this.messages.splice(0);
  }
}

/**
 * Reads a stream one message at a time, so a test waits on the message it expects rather than
 * on a clock. Works for Connect streams and for grpc-js streams alike.
 */
export class StreamReader<T> {
  private readonly iterator: AsyncIterator<T>;

  constructor(
    iterable: AsyncIterable<T>,
    private readonly stop: () => void,
  ) {
    this.iterator = iterable[Symbol.asyncIterator]();
  }

  async next(): Promise<T> {
    const result = await this.iterator.next();
    if (result.done) throw new Error("the stream ended while a message was expected");
    return result.value;
  }

  /** Reads until the stream ends: what was still delivered, and the error it ended with, if any. */
  async rest(): Promise<{ messages: T[]; error: unknown }> {
    const messages: T[] = [];
    try {
      for (;;) {
        const result = await this.iterator.next();
        if (result.done) return { messages, error: undefined };
        messages.push(result.value);
      }
    } catch (error) {
      return { messages, error };
    }
  }

  /** Cancels the stream from the client side and waits until it has ended. */
  async close(): Promise<void> {
    this.stop();
    await this.rest();
  }
}

/** Every stream a test opens, so afterEach can close them all. */
export class Streams {
  private readonly open = new Set<StreamReader<unknown>>();

  add<T>(reader: StreamReader<T>): StreamReader<T> {
    this.open.add(reader);
    return reader;
  }

  async closeAll(): Promise<void> {
    const readers = [...this.open];
    this.open.clear();
    await Promise.all(readers.map((reader) => reader.close()));
  }
}

/** The next non-heartbeat message, which must be a `kind` event. */
export async function nextEvent<K extends EventCase>(
  reader: StreamReader<SignalingMessage>,
  kind: K,
): Promise<MessageOf<K>> {
  for (;;) {
    const message = await reader.next();
    if (message.event.case === "heartbeat") continue;
    if (isEvent(message, kind)) return message;
    throw new Error(`expected a ${kind} event, got ${message.event.case ?? "an empty event"}`);
  }
}

export interface JoinedUser {
  userId: string;
  reader: StreamReader<SignalingMessage>;
  joined: Joined;
  /** The `joined` message itself (seq, etc.). */
  first: MessageOf<"joined">;
  /** Call options carrying the session token. */
  auth: { headers: { authorization: string } };
}

export interface JoinOptions {
  watchPresence?: boolean;
  resumeToken?: string;
  lastSeq?: bigint;
}

/** Opens a JoinCall stream and waits for its `joined` message. */
export async function join(
  client: SignalingClient,
  streams: Streams,
  userId: string,
  options: JoinOptions = {},
): Promise<JoinedUser> {
  const reader = openStream(client, streams, userId, options);
  const first = await nextEvent(reader, "joined");
  const joined = first.event.value;
  return { userId, reader, joined, first, auth: bearer(joined.sessionToken) };
}

/** Opens a JoinCall stream without reading from it (e.g. to see it fail). */
export function openStream(
  client: SignalingClient,
  streams: Streams,
  userId: string,
  options: JoinOptions = {},
): StreamReader<SignalingMessage> {
  const controller = new AbortController();
  const stream = client.joinCall(
    {
      userId,
      watchPresence: options.watchPresence ?? false,
      resumeToken: options.resumeToken ?? "",
      lastSeq: options.lastSeq ?? 0n,
    },
    { signal: controller.signal },
  );
  return streams.add(new StreamReader(stream, () => controller.abort()));
}

export function bearer(token: string): { headers: { authorization: string } } {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** Asserts that `promise` fails with a ConnectError of `code` whose reason metadata is `reason`. */
export async function expectRpcError(
  promise: Promise<unknown>,
  code: Code,
  reason: ErrorReason,
): Promise<ConnectError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, "the call was expected to fail").toBeInstanceOf(ConnectError);
  const connectError = ConnectError.from(error);
  expect({ code: Code[connectError.code], reason: connectError.metadata.get(ERROR_REASON_KEY) }).toEqual({
    code: Code[code],
    reason,
  });
  return connectError;
}

/** Asserts that a stream fails (at its first read) with `code` and `reason`. */
export function expectStreamError(
  reader: StreamReader<SignalingMessage>,
  code: Code,
  reason: ErrorReason,
): Promise<ConnectError> {
  return expectRpcError(reader.next(), code, reason);
}

export const silentLogger: Logger = pino({ level: "silent" });

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({
    HOST: "127.0.0.1",
    PORT: "0",
    GRPC_PORT: "0",
    ICE_SERVERS: "",
    HEARTBEAT_MS: "60000",
    WEB_ROOT: "/nonexistent-web-root",
    ...overrides,
  });
}

export function startTestServer(overrides: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(testConfig(overrides), silentLogger);
}

export const SAMPLE_OFFER = "v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
export const SAMPLE_ANSWER = "v=0\r\no=bob 2 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
export const SAMPLE_CANDIDATE = "candidate:1 1 udp 2122260223 192.168.1.2 54321 typ host generation 0";

/** An ICE candidate message; without `init` it carries sdp_mid "0". */
export function iceCandidate(
  candidate: string,
  init: Omit<MessageInitShape<typeof IceCandidateSchema>, "candidate"> = { sdpMid: "0" },
): IceCandidate {
  return create(IceCandidateSchema, { candidate, ...init });
}

export interface Clients {
  grpcWeb: SignalingClient;
  grpc: SignalingClient;
  /** The Connect protocol on the web port (served by connect-node). */
  connect: SignalingClient;
  /** Drops the clients' idle connections, which would otherwise hold up the server's shutdown. */
  close(): void;
}

/**
 * A gRPC-Web and a Connect client (HTTP/1.1, their own keep-alive agent) and a native gRPC
 * client (HTTP/2, its own session) for `server`. Each call returns clients on connections of
 * their own.
 */
export function clientsFor(server: RunningServer): Clients {
  const agent = new http.Agent({ keepAlive: true });
  const connection = new Http2SessionManager(`http://127.0.0.1:${server.grpcPort}`);
  return {
    grpcWeb: createClient(
      SignalingService,
      createGrpcWebTransport({ baseUrl: `http://127.0.0.1:${server.webPort}`, httpVersion: "1.1", nodeOptions: { agent } }),
    ),
    grpc: createClient(
      SignalingService,
      createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.grpcPort}`, sessionManager: connection }),
    ),
    connect: createClient(
      SignalingService,
      createConnectTransport({ baseUrl: `http://127.0.0.1:${server.webPort}`, httpVersion: "1.1", nodeOptions: { agent } }),
    ),
    close: () => {
      agent.destroy();
      connection.abort();
    },
  };
}
