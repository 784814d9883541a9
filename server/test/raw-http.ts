import * as http from "node:http";
import { once } from "node:events";
import { connect, type Socket } from "node:net";

// HTTP seen from a raw client: what a readiness probe, a load balancer or a misbehaving client does.

/** A GET on its own connection (no keep-alive, so it cannot hold up a shutdown). */
export async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const { status, body } = await request(port, path);
  return { status, body };
}

/** A request on its own connection, answered with its headers too. */
export async function request(
  port: number,
  path: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const sent = http.request({ host: "127.0.0.1", port, path, agent: false, method: options.method ?? "GET", headers: options.headers });
  sent.end();
  const [response] = (await once(sent, "response")) as [http.IncomingMessage];
  let body = "";
  for await (const chunk of response) body += String(chunk);
  return { status: response.statusCode ?? 0, body, headers: response.headers };
}

/** Reads one HTTP/1.1 response (status and body, sized or chunked) from a raw socket. */
export async function readResponse(socket: Socket): Promise<{ status: number; body: string }> {
  let text = "";
  for (;;) {
    const response = parseResponse(text);
    if (response) return response;
    text += (await nextChunk(socket)).toString("latin1");
  }
}

/** The next bytes the server sends; fails if it closes the connection instead. */
function nextChunk(socket: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      settle();
      resolve(chunk);
    };
    const onClose = () => {
      settle();
      reject(new Error("the server closed the connection before a full response"));
    };
    const settle = () => {
      socket.pause();
      socket.off("data", onData).off("end", onClose).off("close", onClose);
    };
    socket.on("data", onData).once("end", onClose).once("close", onClose);
    socket.resume();
  });
}

/** The first complete response in `text`, or undefined while more bytes are needed. */
function parseResponse(text: string): { status: number; body: string } | undefined {
  const head = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n([\s\S]*?)\r\n\r\n/.exec(text);
  if (!head) return undefined;
  const status = Number(head[1]);
  let rest = text.slice(head[0].length);
  const length = /content-length: (\d+)/i.exec(head[2] ?? "");
  if (length) {
    const size = Number(length[1]);
    return rest.length >= size ? { status, body: rest.slice(0, size) } : undefined;
  }
  let body = "";
  for (;;) {
    const line = /^([0-9a-f]+)\r\n/i.exec(rest);
    if (!line) return undefined;
    const size = parseInt(line[1] ?? "", 16);
    const end = line[0].length + size + 2;
    if (rest.length < end) return undefined;
    if (size === 0) return { status, body };
    body += rest.slice(line[0].length, line[0].length + size);
    rest = rest.slice(end);
  }
}

/** True when `promise` settles within `ms`; false when it is still pending then (a hang). */
export function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.finally(() => {
      clearTimeout(timer);
      resolve(true);
    }).catch(() => undefined);
  });
}

/** Opens a raw connection to 127.0.0.1:`port`. */
export async function rawConnection(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  return socket;
}

/** A gRPC-Web unary request whose single message is `size` bytes long (its content is zeros). */
export function grpcWebRequest(path: string, size: number): Buffer {
  const frame = Buffer.alloc(5 + size);
  frame.writeUInt32BE(size, 1);
  const head =
    `POST ${path} HTTP/1.1\r\nHost: test\r\ncontent-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n` +
    `content-length: ${frame.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), frame]);
}
