import * as http from "node:http";
import * as net from "node:net";
import type { Duplex } from "node:stream";

/**
 * Bytes on the wire (TCP payload both ways) of every socket one simulated user opens: HTTP
 * headers, gRPC/gRPC-Web framing, WebSocket framing and the messages themselves.
 */
export class WireCounter {
  private readonly open = new Set<net.Socket>();
  private closedSent = 0;
  private closedReceived = 0;

  track(socket: Duplex): void {
    if (!(socket instanceof net.Socket)) return;
    this.open.add(socket);
    socket.once("close", () => {
      this.open.delete(socket);
      this.closedSent += socket.bytesWritten;
      this.closedReceived += socket.bytesRead;
    });
  }

  get sent(): number {
    let total = this.closedSent;
    for (const socket of this.open) total += socket.bytesWritten;
    return total;
  }

  get received(): number {
    let total = this.closedReceived;
    for (const socket of this.open) total += socket.bytesRead;
    return total;
  }

  /** A plain TCP connection that is counted (for HTTP/2 sessions). */
  connect(port: number, host: string): net.Socket {
    const socket = net.connect({ port, host, noDelay: true });
    this.track(socket);
    return socket;
  }
}

/** An HTTP/1.1 agent whose sockets (including WebSocket upgrades) are counted by `counter`. */
export class CountingAgent extends http.Agent {
  constructor(
    private readonly counter: WireCounter,
    options: http.AgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = super.createConnection(options, callback);
    if (socket) this.counter.track(socket);
    return socket;
  }
}
