// The shared storage over a real network mount: sshfs (FUSE) from a storage host in its own network
// namespace. The network to it goes down for 10+ s, so every operation on the mount hangs (not
// fails); then the mount is unmounted under the agent and mounted again. Segments spool locally,
// the event loop keeps running, and afterwards every segment is listed in order.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { silentLogger } from '../../common/log.js';
import { liveViewKey } from '../../common/secrets.js';
import { parsePlaylist } from '../support/m3u8.js';
import { patternJob } from '../support/jobs.js';
import { canMakeHosts, createTestNet, type TestNet } from '../support/netns.js';
import { run, until } from '../support/run.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('shared storage over a real network mount (sshfs from a namespace host)', function () {
  this.timeout(180_000);
  let net: TestNet;
  let exportDir: string;
  let mnt: string;
  let link: string;

  const mount = async (): Promise<void> => {
    const h = net.host('store');
    const r = await run('sshfs', ['-o', [`IdentityFile=${net.clientKey}`, `UserKnownHostsFile=${path.join(net.dir, 'known_hosts')}`,
      'StrictHostKeyChecking=yes', 'ServerAliveInterval=5', 'ServerAliveCountMax=12'].join(','), `root@${h.address}:${exportDir}`, mnt]);
    assert.equal(r.code, 0, r.stderr);
  };
  const mounted = async (): Promise<boolean> => (await run('findmnt', ['-n', mnt])).code === 0;

  before(async function () {
    const why = await canMakeHosts() ?? ((await run('sshfs', ['--version'])).code === 0 ? undefined : 'sshfs is not installed')
      ?? (await fs.access('/dev/fuse').then(() => undefined, () => 'no /dev/fuse: FUSE mounts are not possible here'));
    if (why) { console.log(`      skipped: ${why}`); this.skip(); }
    net = await createTestNet(['store']);
    const h = net.host('store');
    await fs.writeFile(path.join(net.dir, 'known_hosts'), `${h.address} ${h.hostKeyPub.split(' ').slice(0, 2).join(' ')}\n`);
    exportDir = path.join(net.dir, 'export');
    mnt = path.join(net.dir, 'mnt');
    await fs.mkdir(exportDir);
    await fs.mkdir(mnt);
    await fs.writeFile(path.join(exportDir, '.dvr-storage'), 'dvr shared storage\n');
    await mount();
    link = h.link;
    assert.ok(link, 'the host side of the storage host\'s link');
  });

  after(async () => {
    if (!net) return;
    if (link) await run('ip', ['link', 'set', link, 'up']);
    await run('fusermount', ['-u', '-z', mnt]);
    await net.destroy();
  });

  it('a hung mount (network down 10 s) and an unmounted one: segments spool, the event loop runs, nothing is lost; '
    + 'the live view lists the spooled segments under the names the storage gets', async () => {
    const spool = path.join(net.dir, 'spool');
    const agentToken = 'outage-test-agent-token-0123';
    // No controller answers (nothing listens on port 1): the agent runs its config's job alone.
    const agent = await Agent.start(parseAgentConfig({ nodeId: 'tc-sshfs', storageRoot: mnt, spoolRoot: spool,
      controller: { url: 'http://127.0.0.1:1', agentToken }, liveView: { host: '127.0.0.1', port: 0 }, heartbeatSeconds: 60,
      stateDir: path.join(net.dir, 'state'), storage: { mount: true, probeIntervalMs: 300, probeTimeoutMs: 1500, minFreeBytes: 0 },
      encoder: { initialDelayMs: 300, maxDelayMs: 2000 }, jobs: [patternJob('nfs')] }), silentLogger());
    // The playlist as the storage server has it (reading the mount would hang with it).
    const listed = async (): Promise<ReturnType<typeof parsePlaylist>['segments']> => {
      const text = await fs.readFile(path.join(exportDir, 'live', 'nfs', 'source', 'index.m3u8'), 'utf8').catch(() => '');
      return text ? parsePlaylist(text).segments : [];
    };
    const spooled = async (): Promise<number> =>
      (await fs.readdir(path.join(spool, 'live', 'nfs', 'source', 'incoming')).catch(() => [])).filter((f) => f.endsWith('.ts')).length;
    let worstLagMs = 0;
    let last = Date.now();
    const lag = setInterval(() => { const now = Date.now(); worstLagMs = Math.max(worstLagMs, now - last - 100); last = now; }, 100);
    try {
      await until('3 segments listed through the mount', async () => ((await listed()).length >= 3 ? true : undefined), 40_000, 100);

      // 1. The network to the storage goes down: operations on the mount hang.
      await run('ip', ['link', 'set', link, 'down']);
      const down = Date.now();
      await until('the agent to see the hung mount', () => (agent.storage.available ? undefined : true), 10_000, 50);
      const detectedMs = Date.now() - down;
      assert.ok(detectedMs < 5000, `a hung mount is detected within a few seconds (${detectedMs} ms)`);
      assert.match(agent.storage.snapshot().reason ?? '', /timed out|timeout/i);
      await until('8 s of outage with segments waiting in the local spool', async () =>
        (Date.now() - down >= 8000 && (await spooled()) >= 5 ? true : undefined), 30_000, 200);
      // The live view (what an edge reads while its mount stalls): the spooled segments are listed.
      const viewUrl = `http://127.0.0.1:${agent.liveViewPort ?? 0}/live/nfs/source/index.m3u8`;
      const key = { authorization: `Bearer ${liveViewKey(agentToken)}` };
      assert.equal((await fetch(viewUrl)).status, 401, 'the live view needs the key');
      const storageLast = (await listed()).at(-1)?.seq ?? -1;
      const viewRes = await fetch(viewUrl, { headers: key });
      assert.equal(viewRes.status, 200);
      const view = parsePlaylist(await viewRes.text()).segments;
      assert.ok((view.at(-1)?.seq ?? 0) >= storageLast + 4,
        `the live view lists the spooled segments (storage's last ${storageLast}, the view's ${view.at(-1)?.seq})`);
      const newest = await fetch(viewUrl.replace('index.m3u8', view.at(-1)?.uri ?? ''), { headers: key });
      assert.equal(newest.status, 200, 'the newest spooled segment is served');
      assert.equal(Buffer.from(await newest.arrayBuffer())[0], 0x47, 'as MPEG-TS');
      await run('ip', ['link', 'set', link, 'up']);
      await until('the storage to come back', () => (agent.storage.available ? true : undefined), 30_000, 50);
      await until('the spool to drain', async () => ((await spooled()) === 0 ? true : undefined), 30_000, 100);
      // Listed on the storage under the very names the live view gave them: one timeline.
      const viewLast = view.at(-1)?.seq ?? 0;
      const stored = new Map((await until('the storage to list what the live view listed', async () => {
        const l = await listed();
        return (l.at(-1)?.seq ?? -1) >= viewLast ? l : undefined;
      }, 30_000, 100)).map((x) => [x.seq, x.uri]));
      for (const x of view) assert.equal(stored.get(x.seq), x.uri, `segment ${x.seq}: the storage lists what the live view listed`);

      // 2. The mount goes away (an empty mountpoint, no marker): segments spool again.
      const before = (await listed()).length;
      assert.equal((await run('fusermount', ['-u', '-z', mnt])).code, 0);
      await until('the agent to see the unmounted path', () => (agent.storage.available ? undefined : true), 10_000, 50);
      assert.match(agent.storage.snapshot().reason ?? '', /marker .* missing/);
      await until('4 segments to wait in the local spool', async () => ((await spooled()) >= 4 ? true : undefined), 30_000, 200);
      await mount();
      assert.ok(await mounted());
      await until('the spool to drain after the remount', async () =>
        ((await spooled()) === 0 && agent.storage.available ? true : undefined), 30_000, 100);
      const segs = await until('segments from both outages listed', async () => {
        const s = await listed();
        return s.length >= before + 5 ? s : undefined;
      }, 30_000, 100);
      assert.deepEqual(segs.map((s) => s.seq), segs.map((_s, i) => i), 'listed in order, nothing lost');
      assert.ok(segs.every((s) => !s.discontinuity), 'storage outages are not holes in the media');
      for (const s of segs) await fs.access(path.join(exportDir, 'live', 'nfs', 'source', s.uri));
      assert.ok(worstLagMs < 1000, `the event loop never stalled (worst lag ${worstLagMs} ms)`);
    } finally {
      clearInterval(lag);
      await run('ip', ['link', 'set', link, 'up']);
      await agent.close();
    }
  });

  const sixStreams = async (name: string, env: Record<string, string>, storage: Record<string, number>): Promise<void> => {
    const base = path.join(net.dir, name);
    await fs.mkdir(base);
    // The controller's side: record each heartbeat's time and what it says about the storage.
    const beats: Array<{ at: number; available: boolean }> = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => { body += d.toString(); });
      req.on('end', () => {
        beats.push({ at: Date.now(), available: (JSON.parse(body) as { storage: { available: boolean } }).storage.available });
        res.setHeader('Content-Type', 'application/json');
        res.end('{}');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await once(receiver, 'listening');
    const streams = ['s1', 's2', 's3', 's4', 's5', 's6'];
    const configFile = path.join(base, 'agent.json');
    await fs.writeFile(configFile, JSON.stringify({
      nodeId: 'tc-six', storageRoot: mnt, spoolRoot: path.join(base, 'spool'), stateDir: path.join(base, 'state'), heartbeatSeconds: 1,
      controller: { url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}`, agentToken: 'heartbeat-test-token-0123' },
      storage: { mount: true, probeIntervalMs: 300, probeTimeoutMs: 1500, minFreeBytes: 0, ...storage },
      encoder: { initialDelayMs: 300, maxDelayMs: 2000 }, jobs: streams.map((s) => patternJob(`${name}-${s}`)),
    }));
    const proc = spawn(process.execPath, [path.join(here, '../../bin/dvr-agent.cjs'), '--config', configFile],
      { stdio: 'ignore', env: { ...process.env, ...env } });
    const listed = async (stream: string): Promise<ReturnType<typeof parsePlaylist>['segments']> => {
      const text = await fs.readFile(path.join(exportDir, 'live', stream, 'source', 'index.m3u8'), 'utf8').catch(() => '');
      return text ? parsePlaylist(text).segments : [];
    };
    try {
      for (const s of streams) await until(`2 segments of ${s}`, async () =>
        ((await listed(`${name}-${s}`)).length >= 2 ? true : undefined), 60_000, 100);
      await run('ip', ['link', 'set', link, 'down']);
      const down = Date.now();
      await until('a heartbeat saying the storage is down',
        () => (beats.some((b) => b.at > down && !b.available) ? true : undefined), 15_000, 50)
        .catch((e: Error) => { throw new Error(`${e.message}; heartbeats since: `
          + `${JSON.stringify(beats.filter((b) => b.at > down - 2000).map((b) => [b.at - down, b.available]))}`); });
      await until('8 s of outage', () => (Date.now() - down >= 8000 ? true : undefined), 15_000, 100);
      await run('ip', ['link', 'set', link, 'up']);
      const during = beats.filter((b) => b.at >= down);
      const gaps = during.slice(1).map((b, i) => b.at - (during[i]?.at ?? b.at));
      assert.ok(during.length >= 5, `heartbeats during the outage: ${during.length}`);
      assert.ok(Math.max(...gaps) < 3500, `heartbeats kept their pace through the hung mount (gaps ${gaps.join(', ')} ms)`);
      for (const s of streams) {
        const segs = await until(`${s} to list its spooled segments`, async () => {
          const l = await listed(`${name}-${s}`);
          return l.length >= 10 ? l : undefined;
        }, 60_000, 200);
        assert.deepEqual(segs.map((x) => x.seq), segs.map((_x, i) => i), `${s}: in order, nothing lost`);
        assert.ok(segs.every((x) => !x.discontinuity), `${s}: no hole`);
      }
    } finally {
      await run('ip', ['link', 'set', link, 'up']);
      proc.kill('SIGTERM');
      if (proc.exitCode === null) await once(proc, 'exit');
      receiver.close();
    }
  };

  it('the agent process keeps its heartbeats going while six streams hit the hung mount, and loses nothing', async () => {
    await sixStreams('six', {}, {});
  });

  it('with fewer threads than streams, the packager lets only a few streams at the storage at once, '
    + 'so the rest of the agent keeps working', async () => {
    // Six threads for six streams: without the packager's gate every thread could end up stuck on the mount.
    await sixStreams('gated', { UV_THREADPOOL_SIZE: '6' }, { concurrentStreamTasks: 2 });
  });
});
