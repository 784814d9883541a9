/**
 * The lean B2 clients (bench/load/h2.ts, h1.ts, raw.ts) on what the smoke run cannot show:
 * the bodies they encode once and re-send are the protobuf encoding of each request, and a
 * server that sends something wrong gets an error saying what it sent, not a hang. The calls
 * against our real server: a few setups here (every event checked by OursPair, as in B2), and
 * B2 at small sizes in the smoke run (`--b2 --smoke`, bench-smoke.test.ts).
 */
import * as net from "node:net";
import { create, fromBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { AnswerRequestSchema, EndCallRequestSchema, EndReason, IceCandidateRequestSchema, OfferRequestSchema } from "@peertobeer/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer } from "../../server/test/helpers.js";
import { loadFixture } from "../lib/fixture.js";
import { Http1GrpcWebConnection } from "../load/h1.js";
import { Http2GrpcConnection } from "../load/h2.js";
import { OursDriver } from "../load/ours.js";
import { encodeRequest } from "../load/raw.js";

const candidates = [
  { candidate: "candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host", sdpMid: "0", sdpMLineIndex: 0 },
  { candidate: "candidate:2 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active", sdpMid: "0", sdpMLineIndex: 0 },
];

function decoded<I extends DescMessage>(schema: I, body: Buffer) {
  expect(body[0]).toBe(0);
  expect(body.readUInt32BE(1)).toBe(body.length - 5);
  return fromBinary(schema, body.subarray(5));
}

describe("encodeRequest", () => {
  it("encodes each request as protobuf-es does, the first time and when it re-uses the kept bytes", () => {
    const offer = { toUserId: "bob", sdp: "v=0 offer", candidates, endOfCandidates: true };
    const answer = { sdp: "v=0 answer", candidates, endOfCandidates: true };
    for (const callId of ["call-1", "call-2-longer"]) {
      expect(decoded(OfferRequestSchema, encodeRequest(OfferRequestSchema, offer))).toEqual(create(OfferRequestSchema, offer));
      const withId = { callId, ...answer } satisfies MessageInitShape<typeof AnswerRequestSchema>;
      expect(decoded(AnswerRequestSchema, encodeRequest(AnswerRequestSchema, withId))).toEqual(create(AnswerRequestSchema, withId));
      const ice = { callId, candidates, endOfCandidates: false };
      expect(decoded(IceCandidateRequestSchema, encodeRequest(IceCandidateRequestSchema, ice))).toEqual(create(IceCandidateRequestSchema, ice));
      const end = { callId, reason: EndReason.HANGUP };
      expect(decoded(EndCallRequestSchema, encodeRequest(EndCallRequestSchema, end))).toEqual(create(EndCallRequestSchema, end));
    }
    // Same candidates array, another description: not the kept bytes.
    const other = { toUserId: "carol", sdp: "v=0 other", candidates, endOfCandidates: true };
    expect(decoded(OfferRequestSchema, encodeRequest(OfferRequestSchema, other))).toEqual(create(OfferRequestSchema, other));
  });
});

describe("the lean clients against our server", () => {
  for (const system of ["ours-grpc", "ours-web"] as const) {
    it(`${system}: pairs set up calls, every event checked, none lost or left over`, async () => {
      const server = await startTestServer({ RATE_LIMIT_PER_SEC: "100000", RATE_LIMIT_BURST: "100000" });
      const port = system === "ours-grpc" ? server.grpcPort : server.webPort;
      const driver = new OursDriver({ system, host: "127.0.0.1", port, stepTimeoutMs: 10_000, client: "raw" }, loadFixture());
      try {
        const pairs = await driver.openPairs(3, "lean-");
        // Pairs at once, each back to back: the unary socket and stream interleave as in B2.
        const latencies = await Promise.all(pairs.map(async (pair) => {
          const each: number[] = [];
          for (let i = 0; i < 20; i++) each.push(await pair.setup());
          return each;
        }));
        expect(latencies.flat().every((ms) => ms > 0)).toBe(true);
        expect(pairs.every((pair) => pair.caller.wire.sent > 0 && pair.callee.wire.received > 0)).toBe(true);
        await driver.closePairs();
        // offer + answer + call ended per setup, and the callee's stream closes nothing early.
        expect(driver.integrity()).toEqual({ events: 3 * 60, lost: 0, duplicated: 0, unexpected: 0 });
      } finally {
        await driver.closeAll();
        await server.shutdown();
      }
    });
  }
});

/** A TCP server that answers whatever comes with `reply` (once it has read something). */
async function badServer(reply: Buffer): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("data", () => socket.write(reply));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

function ended(start: (onEnd: (error?: Error) => void) => void): Promise<Error | undefined> {
  return new Promise((resolve) => start(resolve));
}

describe("a server that sends something wrong", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  it("HTTP/2: a frame larger than allowed fails the call with what was sent", async () => {
    // A frame header announcing 1 MiB of DATA on stream 1.
    const server = await badServer(Buffer.from([0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]));
    cleanups.push(server.close);
    const connection = new Http2GrpcConnection("127.0.0.1", server.port, undefined);
    cleanups.push(() => connection.close());
    const error = await ended((onEnd) => connection.request("SendOffer", "/x/SendOffer", "Bearer t", Buffer.alloc(5), { onMessage: () => {}, onEnd }, 5_000));
    expect(error?.message).toMatch(/the server sent a 1048576-byte frame \(type 0\)/);
  });

  it("HTTP/2: a server that is not HTTP/2 fails the call, not hangs it", async () => {
    const server = await badServer(Buffer.from("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "latin1"));
    cleanups.push(server.close);
    const connection = new Http2GrpcConnection("127.0.0.1", server.port, undefined);
    cleanups.push(() => connection.close());
    const error = await ended((onEnd) => connection.request("SendOffer", "/x/SendOffer", undefined, Buffer.alloc(5), { onMessage: () => {}, onEnd }, 5_000));
    expect(error?.message).toMatch(/HTTP\/2 connection to 127\.0\.0\.1:\d+: the server sent a \d+-byte frame/);
  });

  it("gRPC-Web: a response that is not HTTP fails the call with its first line", async () => {
    const server = await badServer(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n", "latin1"));
    cleanups.push(server.close);
    const connection = new Http1GrpcWebConnection("127.0.0.1", server.port, undefined);
    cleanups.push(() => connection.close());
    const error = await ended((onEnd) => connection.request("SendOffer", "/x/SendOffer", "Bearer t", Buffer.alloc(5), { onMessage: () => {}, onEnd }, 5_000, false));
    expect(error?.message).toBe('SendOffer: the server sent "SSH-2.0-OpenSSH" instead of a status line');
  });

  it("gRPC-Web: an error status in the trailer frame fails the call with it", async () => {
    const trailer = Buffer.from("grpc-status: 16\r\ngrpc-message: bad%20token\r\n", "latin1");
    const body = Buffer.concat([Buffer.from([0x80, 0, 0, 0, trailer.length]), trailer]);
    const server = await badServer(
      Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/grpc-web+proto\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"), body]),
    );
    cleanups.push(server.close);
    const connection = new Http1GrpcWebConnection("127.0.0.1", server.port, undefined);
    cleanups.push(() => connection.close());
    const error = await ended((onEnd) => connection.request("EndCall", "/x/EndCall", "Bearer t", Buffer.alloc(5), { onMessage: () => {}, onEnd }, 5_000, false));
    expect(error?.message).toBe("EndCall: grpc-status 16 (bad token)");
  });
});
