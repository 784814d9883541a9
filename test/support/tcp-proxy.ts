import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/**
 * A TCP proxy to 127.0.0.1:`targetPort` that tests and benchmarks can cut (drop every
 * connection, as a Wi-Fi handover or a restarting load balancer does), and that can refuse or
 * hold new connections meanwhile.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private mode: "open" | "refuse" | "hold" = "open";
  private readonly held: Socket[] = [];
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      client.on("error", () => undefined);
      if (this.mode === "refuse") {
        client.destroy();
        return;
      }
      client.pause();
      if (this.mode === "hold") this.held.push(client);
      else this.forward(client);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Drops every open connection and refuses new ones until unblock(). */
  cutAndBlock(): void {
    this.mode = "refuse";
    this.dropAll();
  }

  unblock(): void {
    this.mode = "open";
  }

  /** Drops every open connection; new ones wait (their bytes unread) until release(). */
  cutAndHold(): void {
    this.mode = "hold";
    this.dropAll();
  }

  /** Lets the held connections through, and any new one. */
  release(): void {
    this.mode = "open";
    for (const client of this.held.splice(0)) {
      if (!client.destroyed) this.forward(client);
    }
  }

  async close(): Promise<void> {
    this.cutAndBlock();
    for (const client of this.held.splice(0)) client.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private forward(client: Socket): void {
    const upstream = connect(this.targetPort, "127.0.0.1");
    upstream.on("error", () => undefined);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.resume();
  }

  private dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}
