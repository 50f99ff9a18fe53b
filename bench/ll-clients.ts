// Players holding blocking reloads, for bench:low-latency, in a process of their own (as they would be
// on other machines): N connections, each sending one GET for the same URL; once every request is
// sent it prints "sent", then, once every one is answered (or after the deadline), one JSON line:
// the time each answer's first byte came (ms since the epoch) and how many answered with each status.
// A raw socket per player: the cost of reading an answer is one read, not an HTTP client's parsing.
// Usage: node dist/bench/ll-clients.js <host> <port> <path> <count> <deadline ms>
import net from 'node:net';

const [host = '127.0.0.1', port = '80', target = '/', count = '1', deadline = '15000'] = process.argv.slice(2);
const n = Number(count);
const request = Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
const times: number[] = [];
const heads: Buffer[] = [];
const sockets: net.Socket[] = [];
const errors: string[] = [];
let sent = 0;
let done = 0;

let finished = false;

function finish(): void {
  if (finished) return;
  finished = true;
  // Read and closed only now: while answers come, taking one costs a timestamp and a reference.
  const statuses: Record<string, number> = {};
  for (const h of heads) {
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(h.subarray(0, 16).toString('latin1'))?.[1] ?? 'unreadable';
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  for (const e of errors) statuses[`error ${e}`] = (statuses[`error ${e}`] ?? 0) + 1;
  for (const s of sockets) s.destroy();
  process.stdout.write(`${JSON.stringify({ times, statuses })}\n`, () => process.exit(0));
}

function open(): void {
  const socket = net.connect(Number(port), host);
  sockets.push(socket);
  socket.setNoDelay(true);
  socket.once('connect', () => {
    socket.write(request, () => {
      if (++sent === n) process.stdout.write('sent\n');
    });
  });
  // A socket is counted once: by its answer, or by its error before one (not after).
  let settled = false;
  socket.once('data', (d: Buffer) => {
    if (settled) return;
    settled = true;
    times.push(Date.now());
    heads.push(d);
    if (++done === n) finish();
  });
  socket.once('error', (err) => {
    if (settled) return;
    settled = true;
    errors.push(err.message);
    if (++done === n) finish();
  });
}

// Connections opened 100 at a time (a burst of thousands overflows the listen queue).
let opened = 0;
const batch = (): void => {
  for (let i = 0; i < 100 && opened < n; i++, opened++) open();
  if (opened < n) setImmediate(batch);
};
batch();
setTimeout(finish, Number(deadline)).unref();
