/**
 * A TCP forwarder on a fixed loopback port that can be taken down (listener closed, every open
 * connection destroyed: clients see resets and then refused connections, as with a crashed server) and
 * brought back on the same port, so a broker configured with its address sees an outage and a recovery
 * of the service behind it without the service losing its data.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class ToggleProxy {
  port = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly targetPort: number;

  constructor(targetPort: number) {
    this.targetPort = targetPort;
  }

  /** Listens (again) on 127.0.0.1: an OS-chosen port the first time, the same port afterwards. */
  async up(): Promise<void> {
    if (this.server !== null) return;
    const server = createServer((client) => this.forward(client));
    await new Promise<void>((resolveListen, rejectListen) => {
      server.once('error', rejectListen);
      server.listen(this.port, '127.0.0.1', () => resolveListen());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
    this.port = address.port;
    this.server = server;
  }

  /** Stops accepting and drops every open connection. Idempotent. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server !== null) await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
  }

  private forward(client: Socket): void {
    const upstream = connect({ host: '127.0.0.1', port: this.targetPort });
    this.sockets.add(client);
    this.sockets.add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
