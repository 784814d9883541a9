import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/** A TCP proxy a test can cut (drop every connection) and block (refuse new ones). */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private blocked = false;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      if (this.blocked) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Drops every open connection and refuses new ones until unblock(). */
  cutAndBlock(): void {
    this.blocked = true;
    for (const socket of this.sockets) socket.destroy();
  }

  unblock(): void {
    this.blocked = false;
  }

  async close(): Promise<void> {
    this.cutAndBlock();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
