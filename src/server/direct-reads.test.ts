import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { adoptDirectReads, DIRECT_READ_BYTES } from './direct-reads.ts';

test('a paused accepted socket is moved to reads into the shared buffer; the listener lets it go', async (t) => {
  const adopted: Array<ReturnType<typeof adoptDirectReads>> = [];
  const received: Buffer[] = [];
  let reads = 0;
  const server = createServer({ pauseOnConnect: true }, (socket) => {
    const direct = adoptDirectReads(socket, true);
    adopted.push(direct);
    if (direct === null) return;
    let previous: Buffer | null = null;
    direct.receive((bytes) => {
      reads++;
      // Every read lands in the same memory: the receiver must copy what it keeps.
      if (previous !== null) assert.equal(bytes.buffer, previous.buffer);
      assert.ok(bytes.length <= DIRECT_READ_BYTES);
      previous = bytes;
      received.push(Buffer.from(bytes));
    });
    direct.socket.on('end', () => direct.socket.end());
    direct.socket.resume();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const payload = Buffer.alloc(1_000_000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 0xff;
  const client = connect({ host: '127.0.0.1', port });
  await once(client, 'connect');
  client.end(payload);
  await once(client, 'close');
  assert.equal(adopted.length, 1);
  assert.notEqual(adopted[0], null);
  assert.ok(reads >= 2, `a 1 MB payload takes several reads (${reads})`);
  assert.ok(Buffer.concat(received).equals(payload));
  // The original socket was destroyed when its handle moved: the listener counts no connection.
  const count = await new Promise<number>((resolve, reject) => server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
  assert.equal(count, 0);
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('without a usable handle nothing is taken over', () => {
  const socket = { _handle: null, destroyed: false, bytesRead: 0 } as unknown as Socket;
  assert.equal(adoptDirectReads(socket, true), null);
  const noUserBuffer = { _handle: { readStop() {} }, destroyed: false, bytesRead: 0 } as unknown as Socket;
  assert.equal(adoptDirectReads(noUserBuffer, true), null);
  assert.notEqual((noUserBuffer as unknown as { _handle: unknown })._handle, null);
});
