// Retention through the controller: an ended event's media is listed with its size and expiry
// (GET /api/v1/recordings), and once its retentionHours ran out the controller asks one transcoder
// in service to delete it, and forgets it when that transcoder says it did. Publishes and
// heartbeats are made as the origin and the agents make them.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, tempDir, until } from '../support/run.js';
import { spawnController } from '../support/controller.js';

const bin = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr-controller.js');
const ADMIN = 'admin-token-for-recordings-0123456789';
const AGENT = 'agent-token-for-recordings-0123456789';

interface Recording { app: string; stream: string; kind: string; endedAt: string | null; bytes: number | null; retentionHours: number;
  expiresAt: string | null; version?: number }

describe('recordings and their retention (controller)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let proc: ChildProcess;
  let api: string;
  const call = async (route: string, method = 'GET', body?: unknown, token = ADMIN): Promise<{ status: number; json: unknown }> => {
    const res = await fetch(`${api}${route}`, { method, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) as unknown : undefined };
  };
  const beat = async (id: string, extra: Record<string, unknown> = {}): Promise<{ jobs?: unknown[]; deleteRecordings?: unknown[] }> =>
    (await call(`/nodes/${id}/heartbeat`, 'POST', { nodeId: id, role: 'transcoder', address: '127.0.0.1',
      storage: { available: true }, ...extra }, AGENT)).json as
      { jobs?: unknown[]; deleteRecordings?: unknown[] };
  const hook = (which: 'publish' | 'publish-done', stream: string, key = ''): Promise<Response> =>
    fetch(`${api}/hooks/${which}?token=${AGENT}`, { method: 'POST', body: new URLSearchParams({ app: 'live', name: stream, key }) });
  const recordings = async (): Promise<Recording[]> => (await call('/recordings')).json as Recording[];

  before(async () => {
    dataDir = await tempDir('recordings');
    ({ proc, url: api } = await spawnController(bin, await freePort(), { DVR_DATA_DIR: dataDir, DVR_ADMIN_TOKEN: ADMIN,
      DVR_AGENT_TOKEN: AGENT, DVR_RECONNECT_GRACE_SECONDS: '0', DVR_DEAD_AFTER_MS: '60000', DVR_LOG_LEVEL: 'warn' }, 'inherit'));
  });
  after(async () => {
    proc.kill('SIGKILL');
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('lists an ended event with its size and expiry, has it deleted when its retention runs out, then forgets it', async () => {
    await beat('tc-b');
    await beat('tc-a');
    // Two events: one kept 7.2 s after its end, one kept until the stream is deleted.
    const short = await call('/streams', 'POST', { app: 'live', stream: 'short', recording: true, retentionHours: 0.002 });
    const kept = await call('/streams', 'POST', { app: 'live', stream: 'kept' });
    assert.equal(short.status, 201);
    assert.equal((short.json as { retentionHours: number }).retentionHours, 0.002);
    for (const [s, r] of [['short', short], ['kept', kept]] as const) {
      assert.equal((await hook('publish', s, (r.json as { streamKey: string }).streamKey)).status, 200);
    }
    const owner = (s: string): Promise<string> => call(`/streams/live/${s}`).then((r) => (r.json as { transcoder: string }).transcoder);
    // The transcoders report what each stream's media takes.
    for (const s of ['short', 'kept']) {
      await beat(await owner(s), { streams: [{ app: 'live', stream: s, storedBytes: s === 'short' ? 123_456_789 : 1000 }] });
    }
    assert.deepEqual(await recordings(), [], 'nothing ended yet');
    const endedBefore = Date.now();
    for (const s of ['short', 'kept']) assert.equal((await hook('publish-done', s)).status, 200);
    const list = await until('both events to end', async () => {
      const l = await recordings();
      return l.length === 2 ? l : undefined;
    }, 10_000, 200);
    const short1 = list.find((x) => x.stream === 'short');
    assert.ok(short1);
    assert.equal(short1.kind, 'event');
    assert.equal(short1.bytes, 123_456_789);
    assert.ok(short1.endedAt && Date.parse(short1.endedAt) >= endedBefore - 1000, `ended at ${String(short1.endedAt)}`);
    assert.equal(Date.parse(short1.expiresAt ?? '') - Date.parse(short1.endedAt ?? ''), 7200, 'retentionHours after its end');
    const kept1 = list.find((x) => x.stream === 'kept');
    assert.deepEqual([kept1?.kind, kept1?.retentionHours, kept1?.expiresAt], ['window', 0, null]);

    // Expired: only the first transcoder in service with its storage available (by id) is asked, and
    // only for the expired event. A transcoder whose storage is gone is never the deleter.
    await beat('tc-0', { storage: { available: false, reason: 'not mounted' } });
    const asked = await until('the controller to ask for the expired media', async () => {
      const r = await beat('tc-a');
      return r.deleteRecordings ? r.deleteRecordings : undefined;
    }, 15_000, 300);
    const endedAt = Date.parse(short1.endedAt ?? '');
    assert.deepEqual(asked, [{ app: 'live', stream: 'short', endedAt }]);
    assert.equal((await beat('tc-b')).deleteRecordings, undefined, 'one deleter');
    assert.equal((await beat('tc-0', { storage: { available: false } })).deleteRecordings, undefined, 'not one without its storage');
    assert.equal((await recordings()).length, 2, 'listed until the deletion is reported');
    await beat('tc-a', { deletedRecordings: [{ app: 'live', stream: 'short', endedAt: endedAt - 1 }] });
    assert.equal((await recordings()).length, 2, 'a report of another event (an earlier end) changes nothing');
    await beat('tc-a', { deletedRecordings: [{ app: 'live', stream: 'short', endedAt }] });
    assert.deepEqual((await recordings()).map((x) => x.stream), ['kept']);
    assert.equal((await beat('tc-a')).deleteRecordings, undefined, 'not asked again');

    // Published again: a new event, its recording no longer deleted.
    assert.equal((await hook('publish', 'short', (short.json as { streamKey: string }).streamKey)).status, 200);
    assert.equal(((await call('/streams/live/short')).json as { status: string }).status, 'live');
  });

  it('deletes a stream with its media: refused while live; the request says what the deleting transcoder removed; '
    + 'archived versions are listed as recordings', async () => {
    const made = await call('/streams', 'POST', { app: 'live', stream: 'gone', archiveStrategy: 'version' });
    const key = (made.json as { streamKey: string }).streamKey;
    assert.equal((await hook('publish', 'gone', key)).status, 200);
    const live = await call('/streams/live/gone?purge=true', 'DELETE');
    assert.equal(live.status, 409);
    assert.match((live.json as { message: string }).message, /is live: its media cannot be deleted while it runs/);
    // A transcoder found an archived version of it on the storage.
    await beat('tc-a', { versions: [{ app: 'live', stream: 'gone', version: 0, endedAt: Date.now() - 60_000, bytes: 9999 }] });
    const version = (await recordings()).find((r) => r.stream === 'gone.0');
    assert.deepEqual([version?.kind, version?.bytes], ['version', 9999]);
    assert.equal((await hook('publish-done', 'gone')).status, 200);
    await until('the event to end', async () => (((await call('/streams/live/gone')).json as { status: string }).status === 'ended'
      ? true : undefined), 10_000, 200);
    const deleting = call('/streams/live/gone?purge=true', 'DELETE');
    const asked = await until('the deleter to be asked to remove it', async () => (await beat('tc-a') as { purgeStreams?: unknown })
      .purgeStreams, 10_000, 200);
    assert.deepEqual(asked, [{ app: 'live', stream: 'gone' }]);
    assert.equal((await hook('publish', 'gone', key)).status, 403, 'no publish while it is being deleted');
    await beat('tc-a', { purgedStreams: [{ app: 'live', stream: 'gone', removed: ['live/gone', 'live/gone.0'], bytes: 123_456 }] });
    const done = await deleting;
    assert.equal(done.status, 200);
    assert.deepEqual(done.json, { deleted: 'live/gone', removed: ['live/gone', 'live/gone.0'], bytes: 123_456 });
    assert.equal((await call('/streams/live/gone')).status, 404);
    assert.ok(!(await recordings()).some((r) => r.stream.startsWith('gone')), 'its versions are gone from the recordings too');
  });
});
