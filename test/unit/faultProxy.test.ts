/**
 * The fault proxy itself, against an echo server of its own: it forwards, silences the connections open at
 * the time (and only those), delays, resets with an RST, counts connections and leaves nothing open.
 */
import net from 'node:net';
import { FaultProxy } from '../helpers/faultProxy';

let echo: net.Server;
let echoPort: number;
const serverSockets = new Set<net.Socket>();
let proxy: FaultProxy;
const clients: net.Socket[] = [];

beforeAll(async () => {
  echo = net.createServer((socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  echoPort = (echo.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

beforeEach(async () => {
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await proxy.close();
});

async function connect(): Promise<net.Socket> {
  const socket = net.connect(proxy.port, '127.0.0.1');
  clients.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  return socket;
}

/** Writes `text` and resolves with what comes back once as many bytes have returned. */
function roundTrip(socket: net.Socket, text: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) {
        socket.off('data', onData);
        resolve(got);
      }
    };
    socket.on('data', onData);
    socket.write(text);
  });
}

test('passes bytes both ways and counts connections', async () => {
  const a = await connect();
  const b = await connect();
  expect(await roundTrip(a, 'hello')).toBe('hello');
  expect(await roundTrip(b, 'world')).toBe('world');
  expect(proxy.connections).toBe(2);
  expect(proxy.open).toBe(2);
});

test('silence stops the connections open at the time, without closing them; new connections pass', async () => {
  const old = await connect();
  expect(await roundTrip(old, 'before')).toBe('before');
  let heard = '';
  let closed = false;
  old.on('data', (chunk: Buffer) => (heard += chunk.toString()));
  old.on('close', () => (closed = true));

  expect(proxy.silence()).toBe(1);
  old.write('into the void');
  const fresh = await connect();
  // Several round trips on a new connection: the proxy has long handled the silenced write by then.
  for (let i = 0; i < 5; i++) expect(await roundTrip(fresh, `after ${i}`)).toBe(`after ${i}`);

  expect(heard).toBe('');
  expect(closed).toBe(false);
  expect(old.destroyed).toBe(false);
  expect(proxy.silent).toBe(1);
  expect(proxy.connections).toBe(2);
  // Passing again does not revive a silenced flow.
  proxy.pass();
  expect(await roundTrip(fresh, 'still')).toBe('still');
  expect(heard).toBe('');
});

test('delay forwards every chunk later, in order', async () => {
  const socket = await connect();
  proxy.delay(150);
  const started = Date.now();
  const parts = ['a1', 'b2', 'c3', 'd4'];
  const reply = new Promise<string>((resolve) => {
    let got = '';
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= 8) resolve(got);
    });
  });
  for (const p of parts) socket.write(p);
  expect(await reply).toBe(parts.join(''));
  socket.removeAllListeners('data');
  // Each way is delayed: the reply cannot come back sooner than twice the delay.
  expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  proxy.pass();
  expect(await roundTrip(socket, 'quick')).toBe('quick');
});

test('reset destroys the open connections with an RST; new ones pass', async () => {
  const old = await connect();
  expect(await roundTrip(old, 'x')).toBe('x');
  const error = new Promise<NodeJS.ErrnoException>((resolve) => old.once('error', resolve));
  expect(proxy.reset()).toBe(1);
  expect((await error).code).toBe('ECONNRESET');
  const fresh = await connect();
  expect(await roundTrip(fresh, 'again')).toBe('again');
  expect(proxy.open).toBe(1);
});

test('close leaves nothing open', async () => {
  const a = await connect();
  expect(await roundTrip(a, 'x')).toBe('x');
  proxy.silence();
  await connect();
  const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
  await proxy.close();
  await closed;
  expect(proxy.open).toBe(0);
  await new Promise<void>((resolve) => {
    const check = () => (serverSockets.size === 0 ? resolve() : setTimeout(check, 10));
    check();
  });
  await expect(connect()).rejects.toBeDefined();
  // afterEach closes again: closing twice is harmless.
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: echoPort });
});
