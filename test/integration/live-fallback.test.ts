// Live through a stalled storage, on one machine: a real nginx edge with the live fallback in front
// of a storage directory, and a packager whose transcoder-side live view serves the segments that
// wait in its spool while the storage is down. With the agent's flag raised, playlists and new
// segments come from the live view (tokens checked as on the storage path), what it does not hold is
// a fast 503 with Retry-After, and once the storage is back it lists the very segments the view did.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { LiveViewServer } from '../../agent/transcoder/live-view-server.js';
import { silentLogger } from '../../common/log.js';
import { liveViewKey } from '../../common/secrets.js';
import { IncludeFile } from '../../nginx/include.js';
import { renderStreamMaps } from '../../nginx/render.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { Packager } from '../../packager/packager.js';
import type { StreamPackager } from '../../packager/stream.js';
import { encode } from '../support/encode.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist } from '../support/m3u8.js';
import { freePort, tempDir, until } from '../support/run.js';

const SECRET = 'live-fallback-signing-secret';
const KEY = liveViewKey('live-fallback-agent-token-0123');

describe('an edge\'s live fallback to the transcoder\'s live view (real nginx, real packager)', function () {
  this.timeout(120_000);
  let base: string;
  let root: string;
  let packager: Packager;
  let view: LiveViewServer;
  let edge: Edge;
  let sp: StreamPackager;
  let flag: string;
  let include: string;
  let storageUp = true;
  const incoming = (): string => path.join(sp.spoolDir, 'src', 'incoming');
  const stored = async (): Promise<ReturnType<typeof parsePlaylist>> =>
    parsePlaylist(await fs.readFile(path.join(root, 'live', 'lf', 'src', 'index.m3u8'), 'utf8'));
  const mapsText = (signed: boolean): string => renderStreamMaps({ signed: signed ? [{ app: 'live', stream: 'lf' }] : [], ended: [],
    live: { sources: [{ app: 'live', stream: 'lf', source: `127.0.0.1:${view.port}` }], key: KEY } });

  before(async () => {
    base = await tempDir('live-fallback');
    root = path.join(base, 'storage');
    packager = new Packager({ root, spoolRoot: path.join(base, 'spool'), spoolIsLocal: true, liveView: true, log: silentLogger(),
      storageAvailable: () => storageUp, retryDelayMs: 200 });
    sp = await packager.addStream({ app: 'live', stream: 'lf', renditions: ['src'], format: 'fmp4', windowSeconds: 600 });
    view = await LiveViewServer.start({ host: '127.0.0.1', port: 0, key: KEY, log: silentLogger(),
      find: (app, stream) => packager.find(app, stream) });
    // 16 s of one encoder session, staged: it reaches the packager in two parts.
    const staged = path.join(base, 'staged');
    await fs.mkdir(path.join(staged, 'src', 'incoming'), { recursive: true });
    await encode({ streamDir: staged, session: 'lf', format: 'fmp4', renditions: [{ name: 'src', height: 180, videoKbps: 300 }],
      seconds: 16 });
    const files = (await fs.readdir(path.join(staged, 'src', 'incoming'))).filter((f) => /-\d+\.m4s$/.test(f))
      .sort((a, b) => Number(/-(\d+)\./.exec(a)?.[1]) - Number(/-(\d+)\./.exec(b)?.[1]));
    assert.ok(files.length >= 8, `8 segments staged (${files.length})`);
    const move = async (f: string): Promise<void> => fs.rename(path.join(staged, 'src', 'incoming', f), path.join(incoming(), f));
    await move('lf-init.mp4');
    for (const f of files.slice(0, 3)) await move(f);
    await until('3 segments on the storage',
      async () => ((await stored().catch(() => undefined))?.segments.length === 3 ? true : undefined), 30_000, 50);
    // The storage stalls: the rest waits in the spool.
    storageUp = false;
    for (const f of files.slice(3)) await move(f);
    await sp.idle();

    const prefixDir = await tempDir('live-fallback-nginx');
    flag = path.join(prefixDir, 'storage-down');
    include = path.join(prefixDir, 'streams.conf');
    await fs.writeFile(include, mapsText(false));
    edge = await startEdge(root, { streamsInclude: include, signing: { secret: SECRET, streams: [] },
      timeshift: { port: await freePort(), cacheMaxSizeMb: 16 }, liveFallback: { flagFile: flag, cacheMaxSizeMb: 16 } });
  });

  after(async () => {
    await edge?.stop();
    await view?.close();
    await packager?.close();
    await fs.rm(base, { recursive: true, force: true });
  });

  it('without the flag, playlists come from the storage', async () => {
    const res = await fetch(`${edge.url}/live/lf/src/index.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-dvr-source'), null);
    assert.equal(parsePlaylist(await res.text()).segments.length, 3);
  });

  it('with the flag: the live view\'s playlist (the storage\'s segments, then the spooled ones), its segments and init', async () => {
    await fs.writeFile(flag, 'down\n');
    const res = await fetch(`${edge.url}/live/lf/src/index.m3u8`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-dvr-source'), 'live-view');
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    const p = parsePlaylist(await res.text());
    const onStorage = (await stored()).segments;
    assert.deepEqual(p.segments.slice(0, 3).map((s) => s.uri), onStorage.map((s) => s.uri), 'the same timeline as the storage\'s');
    assert.ok(p.segments.length >= 7, `the spooled segments are listed (${p.segments.length})`);
    const newest = await fetch(`${edge.url}/live/lf/src/${p.segments.at(-1)?.uri ?? ''}`);
    assert.equal(newest.status, 200);
    assert.equal(newest.headers.get('content-type'), 'video/iso.segment');
    assert.equal(newest.headers.get('cache-control'), 'public, max-age=2', 'read from the spool: cached briefly, its placement not final');
    const listed = await fetch(`${edge.url}/live/lf/src/${p.segments[2]?.uri ?? ''}`);
    assert.equal(listed.status, 200);
    assert.match(listed.headers.get('cache-control') ?? '', /immutable/, 'a listed segment, held in memory, never changes');
    assert.ok((await newest.arrayBuffer()).byteLength > 1000);
    const init = await fetch(`${edge.url}/live/lf/src/init_0.mp4`);
    assert.equal(init.status, 200);
    assert.equal(init.headers.get('content-type'), 'video/mp4');
    const master = await fetch(`${edge.url}/live/lf/master.m3u8`);
    assert.equal(master.status, 200);
    assert.match(await master.text(), /src\/index\.m3u8/);
  });

  it('with the flag: the live view\'s MPD has the storage MPD\'s Periods and timeline, and the spooled segments after', async () => {
    const onStorage = await fs.readFile(path.join(root, 'live', 'lf', 'manifest.mpd'), 'utf8');
    await fs.writeFile(flag, 'down\n');
    const res = await fetch(`${edge.url}/live/lf/manifest.mpd`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-dvr-source'), 'live-view');
    const viewed = await res.text();
    const attr = (text: string, name: string): string | undefined => new RegExp(`<MPD [^>]*\\b${name}="([^"]*)"`).exec(text)?.[1];
    for (const name of ['id', 'type', 'availabilityStartTime', 'timeShiftBufferDepth', 'minimumUpdatePeriod']) {
      assert.equal(attr(viewed, name), attr(onStorage, name), `MPD@${name}`);
    }
    const periods = (text: string): string[] =>
      [...text.matchAll(/<Period [^>]*>|presentationTimeOffset="\d+"|<S t="\d+"/g)].map((m) => m[0]);
    assert.deepEqual(periods(viewed), periods(onStorage), 'the same Periods, offsets and timeline start');
    assert.match(viewed, /<PatchLocation ttl="\d+">manifest-patch-\d+\.mpp<\/PatchLocation>/);
    const listed = (text: string): number => [...text.matchAll(/<S t="\d+" d="\d+"(?: r="(\d+)")?\/>|<S d="\d+"(?: r="(\d+)")?\/>/g)]
      .reduce((a, m) => a + 1 + Number(m[1] ?? m[2] ?? 0), 0);
    assert.ok(listed(viewed) >= listed(onStorage) + 4, `the spooled segments are listed (${listed(onStorage)} -> ${listed(viewed)})`);
    // A patch request (its name as the MPD gives it) gets the MPD itself: a full update.
    const patch = /<PatchLocation[^>]*>([^<]+)</.exec(viewed)?.[1] ?? '';
    const full = await fetch(`${edge.url}/live/lf/${patch}`);
    assert.equal(full.status, 200);
    assert.match(await full.text(), /^<\?xml[^]*<MPD /);
  });

  it('with the flag: what the live view does not hold, and time-shift URLs, are a fast 503 with Retry-After', async () => {
    for (const url of ['/live/lf/src/000000900_1800000000000_2000000_0_0.m4s', '/live/other/src/index.m3u8',
      '/live/lf/index-1800000000-60.m3u8']) {
      const started = Date.now();
      const res = await fetch(`${edge.url}${url}`);
      assert.equal(res.status, 503, url);
      assert.equal(res.headers.get('retry-after'), '2', url);
      assert.equal(res.headers.get('cache-control'), 'no-store', url);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', url);
      assert.ok(Date.now() - started < 1000, `${url}: answered at once`);
    }
  });

  it('with the flag: a signed stream still needs its token', async () => {
    // As the edge's agent swaps its stream maps: tested inside the whole config, then reloaded.
    const maps = new IncludeFile({ config: edge.nginx.configPath, file: include });
    await maps.apply(mapsText(true));
    try {
      const status = async (): Promise<number> => (await fetch(`${edge.url}/live/lf/src/index.m3u8`)).status;
      await until('the signed maps in force', async () => ((await status()) === 403 ? true : undefined), 10_000, 50);
      const signed = signedPlaybackPath(SECRET, 'live', 'lf', 'src/index.m3u8', Date.now() / 1000 + 600);
      const res = await fetch(`${edge.url}${signed}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-dvr-source'), 'live-view');
    } finally {
      await maps.apply(mapsText(false));
      await until('the open maps in force', async () =>
        ((await fetch(`${edge.url}/live/lf/src/index.m3u8`)).status === 200 ? true : undefined), 10_000, 50);
    }
  });

  it('once the storage is back, it lists the segments the live view listed, under the same names; the flag gone, '
    + 'the edge reads it', async () => {
    const res = await fetch(`${edge.url}/live/lf/src/index.m3u8`);
    const viewed = parsePlaylist(await res.text()).segments;
    storageUp = true;
    await sp.scanIncoming();
    const after = await until('the spooled segments on the storage', async () => {
      const s = (await stored()).segments;
      return s.length >= viewed.length ? s : undefined;
    }, 30_000, 50);
    assert.deepEqual(after.slice(0, viewed.length).map((s) => [s.seq, s.uri]), viewed.map((s) => [s.seq, s.uri]));
    await fs.rm(flag);
    const back = await fetch(`${edge.url}/live/lf/src/index.m3u8`);
    assert.equal(back.headers.get('x-dvr-source'), null);
    assert.equal(parsePlaylist(await back.text()).segments.length, after.length);
  });
});
