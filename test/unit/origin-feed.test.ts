import assert from 'node:assert/strict';
import { parseAgentConfig } from '../../agent/config.js';
import { parseRtmpPlaylist } from '../../agent/encoder/origin-feed.js';
import { parseTranscodeJob } from '../../common/job.js';
import { originFragmentsDir } from '../../agent/transcoder/transcoder.js';
import { renderConfig } from '../../nginx/render.js';

// What nginx-rtmp 1.2 writes (hls_nested, hls_continuous): a publish, then a republish.
const REPUBLISHED = `#EXTM3U
#EXT-X-VERSION:3
#EXT-X-MEDIA-SEQUENCE:3
#EXT-X-TARGETDURATION:2
#EXTINF:0.757,
3.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000,
4.ts
#EXTINF:2.000,
5.ts
`;

describe('origin feed: nginx-rtmp playlists', () => {
  it('lists fragments in order with their durations and the DISCONTINUITY of a new publish', () => {
    assert.deepEqual(parseRtmpPlaylist(REPUBLISHED), [
      { n: 3, durationSec: 0.757, discontinuity: false },
      { n: 4, durationSec: 2, discontinuity: true },
      { n: 5, durationSec: 2, discontinuity: false },
    ]);
  });

  it('ignores lines that are not its own fragments (CRLF, other names, a path)', () => {
    const text = '#EXTM3U\r\n#EXTINF:2.000,\r\n7.ts\r\n#EXTINF:2.000,\r\n../x.ts\r\n#EXTINF:2.000,\r\nother-8.ts\r\n';
    assert.deepEqual(parseRtmpPlaylist(text).map((f) => f.n), [7]);
    assert.deepEqual(parseRtmpPlaylist(''), []);
  });
});

describe('origin feed: which jobs take the origin\'s fragments', () => {
  const origin = { dir: '/var/lib/dvr/spool/.origin', fragmentSeconds: 2, sources: ['rtmp://10.0.0.5:1935', 'rtmp://127.0.0.1:1935'] };
  const job = (over: Record<string, unknown>): ReturnType<typeof parseTranscodeJob> => parseTranscodeJob({
    app: 'live', stream: 'cam1', source: { url: 'rtmp://10.0.0.5:1935/live/cam1' }, mode: 'copy', format: 'ts', segmentSeconds: 2, ...over });

  it('a copy-mode TS job from this node\'s origin, with its fragment length', () => {
    assert.equal(originFragmentsDir(job({}), origin), '/var/lib/dvr/spool/.origin/live/cam1');
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://127.0.0.1:1935/live/cam1' } }), origin), '/var/lib/dvr/spool/.origin/live/cam1');
  });

  it('anything else runs ffmpeg: another origin, a transcode, fMP4, another segment length, SRT, no segmenting origin', () => {
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.6:1935/live/cam1' } }), origin), undefined);
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.5:1936/live/cam1' } }), origin), undefined);
    assert.equal(originFragmentsDir(job({ mode: 'transcode', ladder: [{ name: 'r720', height: 720 }] }), origin), undefined);
    assert.equal(originFragmentsDir(job({ format: 'fmp4' }), origin), undefined);
    assert.equal(originFragmentsDir(job({ segmentSeconds: 4 }), origin), undefined);
    assert.equal(originFragmentsDir(job({ source: { url: 'srt://10.0.0.5:9000?mode=listener' } }), origin), undefined);
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.5:1935/live/cam1?key=x' } }), origin), undefined);
    assert.equal(originFragmentsDir(job({}), undefined), undefined);
  });

  it('names from the URL are checked before they become a path', () => {
    assert.throws(() => originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.5:1935/live/Cam~1' } }), origin), /may contain only/);
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.5:1935/live/..' } }), origin), undefined);
    assert.equal(originFragmentsDir(job({ source: { url: 'rtmp://10.0.0.5:1935/live/a/b' } }), origin), undefined);
  });

  it('the config refuses fragments on a network mount (no local spool) and names the path', () => {
    const base = { nodeId: 'n1', storageRoot: '/mnt/dvr', originSegments: { dir: '/var/lib/dvr/spool/.origin', sources: ['rtmp://10.0.0.5:1935'] } };
    assert.throws(() => parseAgentConfig({ ...base, storage: { mount: true } }), /\$\.originSegments: needs a spoolRoot on local disk/);
    const ok = parseAgentConfig({ ...base, storage: { mount: true }, spoolRoot: '/var/lib/dvr/spool' });
    assert.equal(ok.originSegments?.fragmentSeconds, 2);
    assert.throws(() => parseAgentConfig({ ...base, originSegments: { dir: 'relative', sources: ['http://x'] } }), /\$\.originSegments\.dir/);
  });

  it('the origin renders nginx-rtmp\'s HLS writer for it, and refuses a worker user that is not a name', () => {
    const model = { role: 'origin' as const, prefix: '/p', rtmpListen: { host: '127.0.0.1', port: 1935 },
      statusListen: { host: '127.0.0.1', port: 8081 },
      apps: ['live'], controllerUrl: 'http://127.0.0.1:8000', hookToken: 'hook-token-0123456789', publishAllow: ['all'], playAllow: ['127.0.0.1'],
      rtmpModulePath: '/m.so', workerProcesses: 1, workerConnections: 64, statusAllow: ['127.0.0.1'] };
    const text = renderConfig({ ...model, workerUser: 'dvr',
      segmenter: { dir: '/var/lib/dvr/spool/.origin', fragmentSeconds: 2, playlistSeconds: 60 } });
    assert.match(text, /^user dvr;$/m);
    for (const d of ['hls on;', 'hls_path "/var/lib/dvr/spool/.origin/live";', 'hls_nested on;', 'hls_continuous on;',
      'hls_fragment 2000ms;', 'hls_playlist_length 60s;', 'hls_cleanup on;']) assert.ok(text.includes(d), d);
    assert.ok(!renderConfig(model).includes('hls on;'), 'no segmenter, no HLS');
    assert.throws(() => renderConfig({ ...model, workerUser: 'dvr; load_module x',
      segmenter: { dir: '/x', fragmentSeconds: 2, playlistSeconds: 60 } }),
      /not a user name/);
  });
});
