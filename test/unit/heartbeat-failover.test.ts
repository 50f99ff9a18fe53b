// An agent's heartbeats with the cluster's controllers listed: a controller that refuses the
// connection, hangs or answers 5xx is passed over for the next within the same beat, and the one
// that answered is asked first from then on. Real HTTP servers on loopback.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { HeartbeatSender } from '../../agent/metrics/heartbeat.js';
import { silentLogger } from '../../common/log.js';
import type { Heartbeat } from '../../common/protocol.js';
import { freePort } from '../support/run.js';

async function server(handler: http.RequestListener): Promise<{ url: string; hits: () => number; close: () => void }> {
  let hits = 0;
  const s = http.createServer((req, res) => { hits++; handler(req, res); });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  return { url: `http://127.0.0.1:${(s.address() as { port: number }).port}`, hits: () => hits,
    close: () => { s.closeAllConnections(); s.close(); } };
}

describe('heartbeats to several controllers', () => {
  it('pass over a controller that is down, hangs or fails, within the same beat, and keep to the one that answers', async () => {
    const down = `http://127.0.0.1:${await freePort()}`;
    const hanging = await server(() => { /* never answers */ });
    const failing = await server((_req, res) => { res.statusCode = 503; res.end(); });
    const good = await server((_req, res) => { res.setHeader('content-type', 'application/json'); res.end('{"jobs":[]}'); });
    const replies: unknown[] = [];
    const sender = new HeartbeatSender({ controllerUrls: [down, hanging.url, failing.url, good.url], agentToken: 'agent-token-0123456789',
      nodeId: 'tc-1', intervalMs: 60_000, timeoutMs: 300, log: silentLogger(),
      build: () => Promise.resolve({ nodeId: 'tc-1' } as Heartbeat), onReply: (r) => { replies.push(r); return Promise.resolve(); } });
    try {
      await sender.beat();
      assert.deepEqual([sender.sent, sender.failures, replies], [1, 0, [{ jobs: [] }]]);
      await sender.beat();
      assert.deepEqual([hanging.hits(), failing.hits(), good.hits()], [1, 1, 2], 'the one that answered is asked first');
    } finally {
      await sender.close();
      for (const s of [hanging, failing, good]) s.close();
    }
  });
});
