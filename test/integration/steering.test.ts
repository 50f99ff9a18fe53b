// Content steering on a real edge nginx: once its agent's maps give it a pathway, the master
// playlists and MPDs it serves name that pathway and the steering manifest (signed URLs too), the
// manifest comes from the agent's service through nginx, and a relay's requests get the files as
// written. Without a pathway (the appliance, a lone edge) nothing changes.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TimeShiftServer } from '../../agent/timeshift/server.js';
import { silentLogger } from '../../common/log.js';
import { IncludeFile } from '../../nginx/include.js';
import { renderSecretInclude, renderStreamMaps } from '../../nginx/render.js';
import { signedPlaybackPath } from '../../nginx/signing.js';
import { renderMaster } from '../../packager/render/master.js';
import { startEdge, type Edge } from '../support/edge.js';
import { parsePlaylist } from '../support/m3u8.js';
import { freePort, tempDir, until } from '../support/run.js';

const SECRET = 'steering-secret-0123456789';

const MASTER = renderMaster([
  { rendition: 'r720', bandwidth: 2_000_000, averageBandwidth: 1_800_000, codecs: ['avc1.64001f'], width: 1280, height: 720,
    frameRate: 25 },
  { rendition: 'r360', bandwidth: 700_000, averageBandwidth: 600_000, codecs: ['avc1.64001e'], width: 640, height: 360, frameRate: 25 },
  { rendition: 'audio', bandwidth: 96_000, averageBandwidth: 96_000, codecs: ['mp4a.40.2'], width: undefined, height: undefined,
    frameRate: undefined },
], true);

const MPD = '<?xml version="1.0" encoding="utf-8"?>\n<MPD id="e1" xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic">\n'
  + '<PatchLocation ttl="60">manifest-patch-1800000000000.mpp</PatchLocation>\n'
  + '<Period id="p0" start="PT0S">\n<AdaptationSet id="0" contentType="video" mimeType="video/mp4">\n'
  + '<Representation id="r360" bandwidth="700000"><SegmentTemplate timescale="1000000" startNumber="1" '
  + 'initialization="r360/init-0.mp4" media="r360/dash/$Number%09d$.m4s"><SegmentTimeline><S t="0" d="2000000"/></SegmentTimeline>'
  + '</SegmentTemplate></Representation>\n</AdaptationSet>\n</Period>\n<Period id="p1" start="PT2S">\n</Period>\n</MPD>\n';

describe('content steering on an edge (nginx and the edge agent\'s service)', function () {
  this.timeout(60_000);
  let root: string;
  let prefix: string;
  let edge: Edge;
  let service: TimeShiftServer;
  let maps: IncludeFile;

  before(async () => {
    root = await tempDir('steer-root');
    prefix = await tempDir('steer');
    for (const stream of ['cam', 'signed']) {
      const dir = path.join(root, 'live', stream);
      await fs.mkdir(path.join(dir, 'r360', 'dash'), { recursive: true });
      await fs.writeFile(path.join(dir, 'master.m3u8'), MASTER);
      await fs.writeFile(path.join(dir, 'manifest.mpd'), MPD);
      await fs.writeFile(path.join(dir, 'r360', 'dash', '000000001.m4s'), Buffer.alloc(1000, 7));
    }
    const include = path.join(prefix, 'streams.conf');
    const secretFile = path.join(prefix, 'signing.conf');
    await fs.writeFile(include, renderStreamMaps({ signed: [], ended: [] }));
    await fs.writeFile(secretFile, renderSecretInclude(SECRET), { mode: 0o600 });
    service = await TimeShiftServer.start({ root, host: '127.0.0.1', port: await freePort(), maxClips: 1,
      limits: { maxClipSeconds: 60, maxRangeSeconds: 3600 }, log: silentLogger() });
    edge = await startEdge(root, { signing: { secret: { file: secretFile }, streams: [] }, streamsInclude: include,
      timeshift: { port: service.port, cacheMaxSizeMb: 16 } });
    maps = new IncludeFile({ config: edge.nginx.configPath, file: include });
  });
  after(async () => {
    await edge?.stop();
    await service?.close();
    for (const d of [root, prefix]) if (d) await fs.rm(d, { recursive: true, force: true });
  });

  it('without a pathway, the master playlist and the MPD are served as written and no manifest is answered', async () => {
    assert.equal(await (await fetch(`${edge.url}/live/cam/master.m3u8`)).text(), MASTER);
    assert.equal(await (await fetch(`${edge.url}/live/cam/manifest.mpd`)).text(), MPD);
    assert.equal((await fetch(`${edge.url}/_steering/hls.json`)).status, 404);
  });

  it('with one, the master names the steering manifest and every variant its pathway; the MPD its BaseURL, Location '
    + 'and manifest; signed URLs keep their prefix; the manifest comes through nginx; a relay gets the files as written', async () => {
    await maps.apply(renderStreamMaps({ signed: [{ app: 'live', stream: 'signed' }], ended: [], pathway: 'edge-1' }));
    service.steering = { self: 'edge-1', edges: [{ id: 'edge-1', url: edge.url, connections: 3 },
      { id: 'edge-2', url: 'http://127.0.0.2:8080', connections: 1 }] };
    const master = await until('the reloaded edge to name its pathway', async () => {
      const text = await (await fetch(`${edge.url}/live/cam/master.m3u8`).catch(() => undefined))?.text();
      return text?.includes('CONTENT-STEERING') ? text : undefined;
    }, 10_000);
    assert.match(master,
      /^#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-CONTENT-STEERING:SERVER-URI="\/_steering\/hls\.json",PATHWAY-ID="edge-1"\n/m);
    const parsed = parsePlaylist(master);
    assert.deepEqual(parsed.variants.map((v) => [v.uri, v.attrs['PATHWAY-ID']]),
      [['r720/index.m3u8', 'edge-1'], ['r360/index.m3u8', 'edge-1'], ['audio/index.m3u8', 'edge-1']]);
    assert.equal(master.replace(/^#EXT-X-CONTENT-STEERING:.*\n/m, '').replaceAll('PATHWAY-ID="edge-1",', ''), MASTER,
      'nothing else changes');

    const exp = Math.floor(Date.now() / 1000) + 600;
    const signedDir = signedPlaybackPath(SECRET, 'live', 'signed', '', exp);
    const mpd = await (await fetch(`${edge.url}${signedDir}manifest.mpd`)).text();
    const head = mpd.slice(0, mpd.indexOf('<Period '));
    assert.equal(/<BaseURL serviceLocation="edge-1">([^<]+)<\/BaseURL>/.exec(head)?.[1], `${edge.url}${signedDir}`);
    assert.equal(/<Location serviceLocation="edge-1">([^<]+)<\/Location>/.exec(head)?.[1], `${edge.url}${signedDir}manifest.mpd`);
    assert.equal(/<ContentSteering defaultServiceLocation="edge-1" queryBeforeStart="false">([^<]+)<\/ContentSteering>/.exec(head)?.[1],
      `${edge.url}/_steering/dash.json`);
    assert.equal(mpd.replace(/<(BaseURL|Location|ContentSteering) [^>]*>[^<]*<\/\1>\n/g, ''), MPD, 'once, before the first Period');
    const segment = await fetch(new URL('r360/dash/000000001.m4s', `${edge.url}${signedDir}`));
    assert.equal(segment.status, 200, 'the BaseURL reaches the segments');
    const patchAsMpd = await (await fetch(`${edge.url}/live/cam/manifest-patch-1700000000000.mpp`)).text();
    assert.match(patchAsMpd, new RegExp(`<Location serviceLocation="edge-1">${edge.url}/live/cam/manifest\\.mpd</Location>`),
      'a patch not yet written answers with the MPD, steered too');

    const answer = await fetch(`${edge.url}/_steering/hls.json?_HLS_pathway=edge-1&_HLS_throughput=5000000`);
    assert.equal(answer.status, 200);
    assert.deepEqual([answer.headers.get('cache-control'), answer.headers.get('access-control-allow-origin')], ['no-store', '*']);
    const manifest = await answer.json() as { 'PATHWAY-PRIORITY': string[]; 'PATHWAY-CLONES': Array<{ ID: string }> };
    assert.deepEqual(manifest['PATHWAY-PRIORITY'], ['edge-1', 'edge-2'], 'the player stays on its edge');
    assert.deepEqual(manifest['PATHWAY-CLONES'].map((c) => c.ID), ['edge-2']);

    const viaRelay = await fetch(`${edge.url}/live/cam/master.m3u8`, { headers: { 'X-DVR-Relay': '1' } });
    assert.equal(await viaRelay.text(), MASTER, 'a relay\'s viewers stay on the relay');
  });

  it('with another edge to name, the master lists each variant again on that edge (redundant variant streams, for '
    + 'players without steering): its pathway, absolute URIs there (signed prefix kept), its own audio group', async () => {
    await maps.apply(renderStreamMaps({ signed: [{ app: 'live', stream: 'signed' }], ended: [], pathway: 'edge-1',
      backup: { id: 'edge-2', host: '127.0.0.2:8080' } }));
    const exp = Math.floor(Date.now() / 1000) + 600;
    const signedDir = signedPlaybackPath(SECRET, 'live', 'signed', '', exp);
    const master = await until('the reloaded edge to name the other edge', async () => {
      const text = await (await fetch(`${edge.url}${signedDir}master.m3u8`).catch(() => undefined))?.text();
      return text?.includes('PATHWAY-ID="edge-2"') ? text : undefined;
    }, 10_000);
    assert.doesNotMatch(master, /#DVR-BACKUP/, 'every redundant line is a tag or a URI now');
    const variants = [...master.matchAll(/^#EXT-X-STREAM-INF:(.*)\n(.*)$/gm)].map((m) => [/PATHWAY-ID="([^"]+)"/.exec(m[1] ?? '')?.[1],
      /AUDIO="([^"]+)"/.exec(m[1] ?? '')?.[1], m[2]]);
    const other = `http://127.0.0.2:8080${signedDir}`;
    assert.deepEqual(variants, [['edge-1', 'audio', 'r720/index.m3u8'], ['edge-1', 'audio', 'r360/index.m3u8'],
      ['edge-1', undefined, 'audio/index.m3u8'], ['edge-2', 'audio-backup', `${other}r720/index.m3u8`],
      ['edge-2', 'audio-backup', `${other}r360/index.m3u8`], ['edge-2', undefined, `${other}audio/index.m3u8`]]);
    const audioUri = /^#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-backup",.*URI="([^"]+)"$/m.exec(master)?.[1];
    assert.equal(audioUri, `${other}audio/index.m3u8`, 'the redundant variants\' audio group, on the other edge');
    const viaRelay = await (await fetch(`${edge.url}/live/cam/master.m3u8`, { headers: { 'X-DVR-Relay': '1' } })).text();
    assert.equal(viaRelay, MASTER, 'a relay\'s viewers get the file as written: the redundant lines stay comments');
  });
});
