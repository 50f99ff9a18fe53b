import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canConnect } from '../../nginx/process.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { parsePlaylist } from '../support/m3u8.js';
import { ffmpeg, run, until } from '../support/run.js';
import { startAppliance } from '../support/appliance.js';
import { privateCheckout, type PrivateCheckout } from '../support/checkout.js';
import { hasChromium, launchChromium } from '../support/chromium.js';

/**
 * The `dvr` command these tests run: a copy of the checkout inside a 0700 directory (a clone in
 * root's home), so that every URL it prints must be served from places nginx's workers can read.
 */
let checkout: PrivateCheckout | undefined;
const cli = (): string => checkout?.cli ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bin/dvr.cjs');

/** Every process below `pid` (nginx's workers included), from ps. */
async function descendants(pid: number): Promise<number[]> {
  const rows = (await run('ps', ['-eo', 'pid=,ppid='])).stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
  const out: number[] = [];
  const walk = (parent: number): void => {
    for (const [child, ppid] of rows) if (ppid === parent && child !== undefined) { out.push(child); walk(child); }
  };
  walk(pid);
  return out;
}

/** Those of `pids` that still run (a zombie does not). */
async function alive(pids: number[]): Promise<number[]> {
  const out: number[] = [];
  for (const pid of pids) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat !== undefined && !/\) Z /.test(stat)) out.push(pid);
  }
  return out;
}

describe('the appliance command (README quick start), from a checkout in a private directory', function () {
  this.timeout(120_000);
  before(async () => { checkout = await privateCheckout(); });
  after(async () => { await checkout?.remove(); checkout = undefined; });

  it('prints playback: <url> once the demo stream plays over HTTP, and Ctrl-C stops everything it started', async () => {
    const a = await startAppliance({ cli: cli() });
    const { dataDir, port, apiPort, rtmpPort, lines } = a;
    const playback = await a.line('playback');
    assert.equal(playback, `http://127.0.0.1:${port}/live/demo/master.m3u8`);
    const master = parsePlaylist(await (await fetch(playback)).text());
    assert.ok(master.variants.length >= 2, 'an ABR ladder');
    const media = parsePlaylist(await (await fetch(new URL(master.variants[0]?.uri ?? '', playback))).text());
    assert.ok(media.segments.length >= 1);
    assert.equal(media.endList, false, 'live');
    const seg = await fetch(new URL(media.segments[0]?.uri ?? '', new URL(master.variants[0]?.uri ?? '', playback)));
    assert.equal(seg.status, 200);
    assert.ok(lines.some((l) => /^dash: http:\/\/127\.0\.0\.1:\d+\/live\/demo\/manifest\.mpd$/.test(l)));
    // The edge answers time-shift URLs: the last 4 s of the demo, by query, from the same master URL.
    const shifted = await fetch(`${playback}?start=-4`);
    const shiftedText = await shifted.text();
    assert.equal(shifted.status, 200, shiftedText);
    const variant = parsePlaylist(shiftedText).variants[0]?.uri ?? '';
    assert.match(variant, /\/index\.m3u8\?start=-4$/);
    const range = parsePlaylist(await (await fetch(new URL(variant, playback))).text());
    assert.equal(range.playlistType, 'EVENT');
    assert.ok(range.segments.length >= 1 && range.segments.length <= 4, `${range.segments.length} segments of 2 s for the last 4 s`);
    const api = await a.line('api', 5000);
    assert.equal(api, `http://127.0.0.1:${apiPort}/api/v1`);
    assert.equal((await fetch(`${api}/health`)).status, 200);
    assert.equal((await fetch(`${api}/streams`)).status, 401, 'the API is authenticated');
    const token = (await fs.readFile(path.join(dataDir, 'controller', 'admin-token'), 'utf8')).trim();
    assert.equal((await fetch(`${api}/streams`, { headers: { Authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fs.stat(path.join(dataDir, 'controller', 'admin-token'))).mode & 0o777, 0o600);
    const dashboard = await a.line('dashboard', 5000);
    assert.equal(dashboard, `http://127.0.0.1:${apiPort}/dashboard/`);
    assert.match(await (await fetch(dashboard)).text(), /<title>DVR controller<\/title>/);
    // From a checkout that nginx's workers cannot read, the player page, a thumbnail and a clip are served.
    const player = await a.line('player', 5000);
    assert.equal(player, `http://127.0.0.1:${port}/player/?stream=live/demo`);
    const pageRes = await fetch(player);
    assert.equal(pageRes.status, 200, `the player page: ${await pageRes.text()}`);
    assert.equal((await fetch(`http://127.0.0.1:${port}/player/vendor/hls.min.js`)).status, 200, 'the player\'s hls.js');
    const oldest = Math.ceil((media.segments[0]?.programDateTime ?? NaN) / 1000);
    assert.ok(Number.isFinite(oldest), 'the demo\'s playlist dates its segments');
    const thumb = await fetch(`http://127.0.0.1:${port}/live/demo/thumb-${oldest}.jpg`);
    assert.equal(thumb.status, 200, `a thumbnail: ${thumb.status}`);
    assert.equal(thumb.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual([...new Uint8Array(await thumb.arrayBuffer()).subarray(0, 2)], [0xff, 0xd8], 'a JPEG');
    const clip = await fetch(`http://127.0.0.1:${port}/live/demo/archive-${oldest}-2.mp4`);
    assert.equal(clip.status, 200, `a clip: ${clip.status}`);
    assert.equal(Buffer.from(await clip.arrayBuffer()).subarray(4, 8).toString('latin1'), 'ftyp', 'an MP4');
    if (await hasChromium()) {
      const browser = await launchChromium();
      try {
        const page = await browser.newPage();
        await page.goto(player);
        await until('the player page to play the demo', async () => await page.evaluate(`(() => {
          const v = document.querySelector('video');
          const error = document.getElementById('error');
          if (!error.hidden) throw new Error('the page shows: ' + error.textContent);
          return !v.paused && v.readyState >= 3 && v.currentTime > 1;
        })()`) as boolean, 30_000, 200);
      } finally {
        await browser.close();
      }
    }
    // The API, the CLI and the dashboard know the demo as a stream (local: its transcoder's own config).
    const dvr = (...args: string[]): ReturnType<typeof run> => run(process.execPath, [cli(), ...args, '--api', api,
      '--token-file', path.join(dataDir, 'controller', 'admin-token')]);
    const listed = await dvr('streams', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^live\/demo +live +fmp4 +transcode +r720,r360,audio .* appliance \(local\)$/m);
    const url = await dvr('streams', 'url', 'live/demo');
    assert.equal(url.code, 0, url.stderr);
    assert.match(url.stdout, /^publish: none \(live\/demo runs from transcoder 'appliance's own config\)$/m);
    assert.match(url.stdout, new RegExp(`^playback: http://127\\.0\\.0\\.1:${port}/live/demo/master\\.m3u8$`, 'm'));
    assert.match(url.stdout, new RegExp(`^player: http://127\\.0\\.0\\.1:${port}/player/\\?src=%2Flive%2Fdemo%2Fmaster\\.m3u8$`, 'm'));
    const nodesListed = await dvr('nodes', 'list');
    assert.match(nodesListed.stdout, /\nappliance +transcoder +inservice .*\n/);
    assert.ok(nodesListed.stdout.endsWith('\n'), 'the table ends with a newline');
    // The appliance's own agent reports to its controller, so the dashboard shows the machine and the demo.
    const node = await until('the appliance node on the dashboard\'s API', async () => {
      const nodes = await (await fetch(`${api}/nodes`, { headers: { Authorization: `Bearer ${token}` } })).json() as
        Array<{ id: string; state: string; metrics: { streams?: Array<{ stream: string }> } | null }>;
      return nodes.find((n) => n.id === 'appliance' && n.state === 'inservice' && n.metrics?.streams?.some((st) => st.stream === 'demo'));
    }, 15_000, 200);
    assert.equal(node.id, 'appliance');
    // A publisher on the printed publish: URL is authorised, pulled, packaged and served.
    const publish = await a.line('publish', 5000);
    assert.match(publish, new RegExp(`^rtmp://127\\.0\\.0\\.1:${rtmpPort}/live/cam1\\?key=[A-Za-z0-9_-]{20,}$`));
    // A 40 s test pattern in real time, and a stream's playlist once the edge lists two segments.
    const publishPattern = (url: string): ReturnType<typeof ffmpeg> => ffmpeg(['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi',
      '-i', 'testsrc2=size=320x180:rate=25', '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '40',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-c:a', 'aac', '-f', 'flv', url]);
    const playing = (stream: string): Promise<ReturnType<typeof parsePlaylist>> =>
      until(`live/${stream} to play through the edge`, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/live/${stream}/source/index.m3u8`).catch(() => undefined);
        if (!res?.ok) return undefined;
        const p = parsePlaylist(await res.text());
        return p.segments.length >= 2 ? p : undefined;
      }, 40_000, 250);
    const publisher = publishPattern(publish);
    try {
      const cam = await playing('cam1');
      assert.equal(cam.endList, false, 'live');
      const streams = await (await fetch(`${api}/streams`, { headers: { Authorization: `Bearer ${token}` } })).json() as
        Array<{ stream: string; status: string; transcoder: string | null }>;
      assert.deepEqual(streams.map((st) => [st.stream, st.status, st.transcoder]),
        [['cam1', 'live', 'appliance'], ['demo', 'live', 'appliance']], 'the demo is listed too (local)');
      const wrongKey = await ffmpeg(['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=160x90:rate=25', '-t', '2',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'flv', publish.replace(/key=.*/, 'key=wrong')]);
      assert.notEqual(wrongKey.code, 0, 'a wrong stream key is refused');
    } finally {
      await run('pkill', ['-f', 'live/cam1\\?key=']);
      await publisher;
    }
    // A copy-mode TS stream is packaged from the origin's own fragments: no ffmpeg pulls it.
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const made = await fetch(`${api}/streams`, { method: 'POST', headers: auth,
      body: JSON.stringify({ app: 'live', stream: 'cam2', format: 'ts', mode: 'copy' }) });
    assert.equal(made.status, 201);
    const publish2 = ((await (await fetch(`${api}/streams/live/cam2/publish`, { headers: auth })).json()) as { url: string }).url;
    const publisher2 = publishPattern(publish2.replace(/\/\/[^/:]+:/, '//127.0.0.1:'));
    try {
      const cam2 = await playing('cam2').catch(async (err: Error) => {
        const p = await Promise.race([publisher2, new Promise((r) => setTimeout(r, 10, 'running'))]);
        throw new Error(`${err.message}; publisher: ${JSON.stringify(p)} ${publish2}; the appliance logged: ${a.stderr().slice(-3000)}`);
      });
      assert.ok(cam2.segments.every((s) => Math.abs(s.duration - 2) < 0.1),
        `2 s segments: ${cam2.segments.map((s) => s.duration).join(',')}`);
      const pullers = (await run('pgrep', ['-af', 'ffmpeg'])).stdout.split('\n')
        .filter((l) => l.includes('live/cam2') && !l.includes('key='));
      assert.deepEqual(pullers, [], 'no puller for a stream the origin segments');
      const fragments = await fs.readdir(path.join(dataDir, 'origin-fragments', 'live', 'cam2'));
      assert.ok(fragments.filter((f) => f.endsWith('.ts')).length <= 2,
        `the origin's fragments are taken as they close: ${fragments.join(' ')}`);
    } finally {
      await run('pkill', ['-f', 'live/cam2\\?key=']);
      await publisher2;
    }
    const state = await fs.stat(path.join(dataDir, 'media', 'live', 'demo', 'stream.json'));
    assert.ok(state.isFile(), 'media and state live under DVR_DATA_DIR');

    assert.equal(await a.stop(), 0);
    assert.equal(await canConnect('127.0.0.1', port), false, 'nginx stopped');
    const left = await run('pgrep', ['-f', dataDir]);
    assert.equal(left.stdout.trim(), '', 'no ffmpeg or nginx left behind');
    await a.close();
  });
  it('after a crash (kill -9 of its process group) nothing of it runs on; started again on the same ports and data directory, it '
    + 'stops what an older run left, leaves other programs alone, and the same playlist continues with one discontinuity',
  async function () {
    this.timeout(180_000);
    const first = await startAppliance({ cli: cli(), detached: true });
    const { dataDir } = first;
    const playback = await first.line('playback');
    const mediaUrl = new URL(parsePlaylist(await (await fetch(playback)).text()).variants[0]?.uri ?? '', playback);
    const playlist = async (): Promise<ReturnType<typeof parsePlaylist>> => parsePlaylist(await (await fetch(mediaUrl)).text());
    const before = await until('three segments before the crash', async () => {
      const p = await playlist();
      return p.segments.length >= 3 ? p : undefined;
    }, 30_000, 250);
    const firstRun = await descendants(first.proc.pid ?? 0);
    assert.ok(firstRun.length >= 4, `nginx (edge and origin, with workers) and the encoder run: ${firstRun.join(' ')}`);
    process.kill(-(first.proc.pid ?? 0), 'SIGKILL');
    await first.exited;
    await until('every process of the crashed run to stop by itself', async () => (await alive(firstRun)).length === 0 ? true : undefined,
      15_000, 100).catch(async (err: Error) => { throw new Error(`${err.message}: ${(await run('ps', ['-o', 'pid,cmd', '-p',
      (await alive(firstRun)).join(',')])).stdout}`); });
    // What an older version left: its edge nginx, holding the port; and a record naming another program.
    const prefix = path.join(dataDir, 'nginx');
    const stale = spawn('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'],
      { stdio: 'ignore', detached: true });
    await until('the leftover nginx to listen', async () => (await canConnect('127.0.0.1', first.port)) || undefined, 10_000, 50);
    const other = spawn('sleep', ['600'], { stdio: 'ignore', detached: true });
    await fs.writeFile(path.join(dataDir, 'state', 'live-other.pid'), JSON.stringify({ pid: other.pid, session: 'sother', startedAt: 0 }));
    try {
      const ports = { DVR_HTTP_PORT: String(first.port), DVR_API_PORT: String(first.apiPort), DVR_RTMP_PORT: String(first.rtmpPort) };
      const second = await startAppliance({ cli: cli(), env: ports, dataDir, detached: true });
      try {
        await second.line('playback');
        assert.ok(second.lines.includes(`- stopped nginx (edge) (pid ${String(stale.pid)}), left running by an earlier run on this `
          + 'data directory'), second.lines.join('\n'));
        assert.ok(second.lines.some((l) => l.startsWith(`- the encoder record of live-other names pid ${String(other.pid)}, which is `
          + 'not this data directory\'s encoder') && l.endsWith('left alone')), second.lines.join('\n'));
        assert.equal(other.exitCode, null, 'another program is never stopped');
        assert.deepEqual(await alive(firstRun), [], 'nothing of the first run');
        const after = await until('the playlist to continue past the restart', async () => {
          const p = await playlist();
          return p.segments.length > before.segments.length + 2 ? p : undefined;
        }, 40_000, 250);
        assert.equal(after.segments[0]?.uri, before.segments[0]?.uri, 'the same DVR: its first segment is still listed');
        const discontinuities = (p: ReturnType<typeof parsePlaylist>): number => p.segments.filter((x) => x.discontinuity).length;
        assert.equal(discontinuities(after), discontinuities(before) + 1, 'one discontinuity where the encoder started again');
      } finally {
        assert.equal(await second.stop(), 0);
      }
      assert.equal((await run('pgrep', ['-f', dataDir])).stdout.trim(), '', 'nothing left running');
    } finally {
      other.kill('SIGKILL');
      stale.kill('SIGKILL');
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
  it('frees a transcoder slot when an event ends: more publishers than the capacity, one after another, then one more (signed); '
    + 'the edge follows the streams', async function () {
    this.timeout(180_000);
    // The appliance's transcoder takes four publishers at once; the reconnect grace is 2 s here. Its
    // data directory is private (0700, as mktemp -d makes it): nginx's workers must still read it.
    const a = await startAppliance({ cli: cli(), args: ['--no-demo'], env: { DVR_RECONNECT_GRACE_SECONDS: '2' },
      dataDir: await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-private-')) });
    try {
      const api = await a.line('api');
      const token = (await fs.readFile(path.join(a.dataDir, 'controller', 'admin-token'), 'utf8')).trim();
      const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
      const get = async <T>(p: string): Promise<T> => (await (await fetch(`${api}${p}`, { headers: auth })).json()) as T;
      const status = async (stream: string): Promise<string> => (await get<{ status: string }>(`/streams/live/${stream}`)).status;
      const publishFor = async (stream: string, seconds: number, extra: object = {}): Promise<{ done: ReturnType<typeof ffmpeg> }> => {
        const made = await fetch(`${api}/streams`, { method: 'POST', headers: auth,
          body: JSON.stringify({ app: 'live', stream, format: 'ts', mode: 'copy', recording: true, ...extra }) });
        assert.equal(made.status, 201, await made.text());
        const url = (await get<{ url: string }>(`/streams/live/${stream}/publish`)).url.replace(/\/\/[^/:]+:/, '//127.0.0.1:');
        return { done: ffmpeg(['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25',
          '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-f', 'flv', url]) };
      };
      for (const n of [1, 2, 3, 4, 5]) {
        const stream = `seq${n}`;
        const publisher = await (await publishFor(stream, 5)).done;
        assert.equal(publisher.code, 0,
          `publisher ${n} of 5 (capacity 4) was refused: ${publisher.stderr}; the appliance logged: ${a.stderr().slice(-2000)}`);
        await until(`${stream} to end after the reconnect grace`, async () => ((await status(stream)) === 'ended' ? true : undefined),
          30_000, 200);
        // The event is finished: its recording is a VOD playlist.
        const vod = await until(`${stream}'s playlist to end`, async () => {
          const res = await fetch(`http://127.0.0.1:${a.port}/live/${stream}/source/index.m3u8`).catch(() => undefined);
          const p = res?.ok ? parsePlaylist(await res.text()) : undefined;
          return p?.endList ? p : undefined;
        }, 15_000, 200);
        assert.ok(vod.segments.length >= 1, `${stream} was recorded`);
      }
      // The edge learns from the controller (through its agent) that these events ended: long cache.
      await until('the edge to cache an ended event\'s playlist long', async () => ((await fetch(`http://127.0.0.1:${a.port}/live/seq1/source/index.m3u8`))
        .headers.get('cache-control') === 'public, max-age=3600' ? true : undefined), 10_000, 200);
      const nodes = await get<Array<{ id: string; assigned: number; capacity: number }>>('/nodes?role=transcoder');
      assert.deepEqual(nodes.map((n) => [n.id, n.assigned, n.capacity]), [['appliance', 0, 4]], 'nothing runs, nothing is counted');
      // One more, after five have come and gone: accepted, and it plays, signed: the edge refuses the
      // bare URL (403), plays the one the API hands out, and refuses it once expired (410).
      const sixth = await publishFor('seq6', 30, { signedPlayback: true });
      const { url: signed } = await get<{ url: string }>('/streams/live/seq6/playback');
      assert.match(signed, new RegExp(`^http://127\\.0\\.0\\.1:${a.port}/s/\\d+/[A-Za-z0-9_-]{22}/live/seq6/master\\.m3u8$`));
      const media = new URL('source/index.m3u8', signed);
      const live = await until('seq6 to play through its signed URL', async () => {
        const res = await fetch(media).catch(() => undefined);
        const p = res?.ok ? parsePlaylist(await res.text()) : undefined;
        return p && p.segments.length >= 2 ? p : undefined;
      }, 40_000, 250).catch((err: Error) => { throw new Error(`${err.message}; the appliance logged: ${a.stderr().slice(-2000)}`); });
      assert.equal(live.endList, false);
      assert.equal(await status('seq6'), 'live');
      assert.equal((await fetch(new URL(live.segments[0]?.uri ?? '', media))).status, 200, 'its segments play with the same token');
      assert.equal((await fetch(`http://127.0.0.1:${a.port}/live/seq6/source/index.m3u8`)).status, 403, 'the bare URL is refused');
      assert.equal((await fetch(`http://127.0.0.1:${a.port}/live/seq6/master.m3u8`)).status, 403);
      const expired = signed.replace(/\/s\/\d+\//, `/s/${Math.floor(Date.now() / 1000) - 10}/`);
      assert.equal((await fetch(expired)).status, 403, 'a changed expiry no longer matches its token');
      const secret = (await fs.readFile(path.join(a.dataDir, 'controller', 'signing-secret'), 'utf8')).trim();
      const past = Math.floor(Date.now() / 1000) - 10;
      assert.equal((await fetch(`http://127.0.0.1:${a.port}${signedPlaybackPath(secret, 'live', 'seq6', 'master.m3u8', past)}`)).status, 410, 'expired');
      assert.equal((await fs.stat(path.join(a.dataDir, 'nginx', 'signing.conf'))).mode & 0o777, 0o600,
        'the edge\'s copy of the secret is private');
      if (process.getuid?.() === 0) {
        // As root, nginx's workers run as the 'dvr' account, which the private data directory now lets in.
        const workers = (await run('ps', ['-o', 'user=', '--ppid',
          (await fs.readFile(path.join(a.dataDir, 'nginx', 'nginx.pid'), 'utf8')).trim()])).stdout;
        assert.deepEqual([...new Set(workers.trim().split(/\s+/))], ['dvr'], 'the edge\'s workers are not root');
        const st = await fs.stat(a.dataDir);
        assert.equal((st.mode & 0o777).toString(8), '750');
      }
      await run('pkill', ['-f', 'live/seq6\\?key=']);
      await sixth.done;
    } finally {
      await a.close();
    }
  });
  it('a data directory nginx\'s workers cannot reach is refused at once, naming the directory, the account and the fix', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'dvr-home-'));
    try {
      const started = Date.now();
      const a = await startAppliance({ cli: cli(), dataDir: path.join(parent, 'clone', 'data') });
      const code = await a.exited;
      assert.equal(code, 1);
      assert.ok(Date.now() - started < 15_000, 'refused at once, not after the 60 s playback wait');
      assert.match(a.stderr(), new RegExp(`inside ${parent} \\(0700 root:root\\), which nginx's workers \\(account 'dvr'\\) cannot enter`));
      assert.match(a.stderr(), /DVR_DATA_DIR=\/var\/lib\/dvr/);
      assert.equal((await run('pgrep', ['-f', parent])).stdout.trim(), '', 'nothing left running');
    } finally {
      await fs.rm(parent, { recursive: true, force: true });
    }
  });

  it('a part that fails at start is named with the last lines of its log, and everything started before it stops', async () => {
    // Another program holds the origin's status port.
    const squatter = net.createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const port = (squatter.address() as net.AddressInfo).port;
    const a = await startAppliance({ cli: cli(), env: { DVR_RTMP_STATUS_PORT: String(port) } });
    try {
      assert.equal(await a.exited, 1);
      assert.match(a.stderr(), /dvr: nginx \(origin\) failed: DVR_ERR_NGINX: nginx exited at start: .*Address already in use/);
      assert.match(a.stderr(),
        new RegExp(`last lines of ${a.dataDir}/nginx-origin/error.log:\\n.*bind\\(\\) to 127\\.0\\.0\\.1:${port} failed`));
      assert.equal(await canConnect('127.0.0.1', a.port), false, 'the edge nginx it had started is stopped');
      assert.equal((await run('pgrep', ['-f', a.dataDir])).stdout.trim(), '', 'nothing left running');
    } finally {
      squatter.close();
      await a.close();
    }
  });
});
