import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { silentLogger } from '../../common/log.js';
import { LowLatencyFanout, llPosition } from '../../agent/roles/ll-fanout.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';
import { positionSatisfies, renderLlPlaylist, satisfies, type LlRendition } from '../../packager/render/ll-hls.js';
import { answerLlPlaylist, parseLlQuery, type LlSource } from '../../packager/live-edge.js';
import { partName } from '../../packager/layout.js';

/** A rendition of `segments` listed 2 s segments with 5 parts each and `current` parts of the next. */
function rendition(segments: number, current: number): LlRendition {
  const index = new SegmentIndex();
  for (let i = 0; i < segments; i++) {
    index.push({ seq: i, startMs: 1_700_000_000_000 + i * 2000, durationUs: 2_000_000, disc: 0, mediaStartUs: i * 2_000_000, bytes: 10 });
  }
  const part = (n: number, k: number): { name: string; k: number; durationUs: number; independent: boolean; data: Buffer } =>
    ({ name: partName('s1', n, k), k, durationUs: 400_000, independent: k === 0, data: Buffer.from(`${n}.${k}`) });
  return {
    input: { index, from: 0, ext: 'm4s', target: 2, kind: 'live', ended: false, canSkipUntil: 12, chunkedBelow: 0,
      initUri: (d) => `init_${d}.mp4`, lowLatency: { partTarget: 0.5, partHoldBack: 1.5 } },
    partsOf: (seq) => [0, 1, 2, 3, 4].map((k) => part(seq, k)), current: [0, 1, 2, 3].slice(0, current).map((k) => part(segments, k)),
    hint: partName('s1', segments, current),
  };
}

describe('the edge\'s low-latency fan-out', () => {
  it('reads where a playlist (full or delta) ends, and answers a request as the transcoder would', () => {
    for (const [segments, current] of [[10, 0], [10, 2], [20, 3]] as const) {
      const r = rendition(segments, current);
      for (const skip of [false, true]) {
        const p = llPosition(renderLlPlaylist(r, skip, []));
        assert.ok(p, 'a position');
        assert.equal(p.complete, segments - 1);
        for (const [msn, part] of [[segments - 2, 4], [segments - 1, 5], [segments, 0], [segments, current], [segments, undefined],
          [segments - 1, undefined]] as const) {
          assert.equal(positionSatisfies(p, msn, part), satisfies(r, msn, part), `${segments}/${current} skip=${skip}: ${msn}.${part}`);
        }
      }
    }
  });

  it('a thousand players waiting for the next part cost one blocking request to the transcoder; each gets the playlist it '
    + 'asked for (delta or full), and the next part brings the next request', async () => {
    let state = rendition(20, 1);
    let changes = 0;
    const listeners = new Set<() => void>();
    const src: LlSource = { ended: false, lowLatency: true, get changes() { return changes; }, llRendition: () => state,
      renditionReports: () => [], part: () => 'never', onChange: (l) => { listeners.add(l); return () => { listeners.delete(l); }; } };
    const upstream: string[] = [];
    const server = http.createServer((req, res) => {
      upstream.push(req.url ?? '');
      const url = new URL(req.url ?? '/', 'http://x');
      const q = parseLlQuery(url.searchParams);
      if ('error' in q) return void res.writeHead(400).end();
      void answerLlPlaylist(src, 'v', q, 6000).then((a) => {
        if (a.status !== 200) return void res.writeHead(a.status).end();
        res.writeHead(200, { 'Content-Type': a.type, 'Cache-Control': 'public, max-age=1' }).end(a.body);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const fanout = new LowLatencyFanout(silentLogger());
    fanout.sources = { key: 'k'.repeat(20), sources: new Map([['live/cam', `127.0.0.1:${port}`]]) };
    try {
      const ask = (query: string): Promise<{ status: number; body: Buffer }> =>
        fanout.handle('/live/cam/v/index.m3u8', new URLSearchParams(query), new AbortController().signal);
      const waiting = Array.from({ length: 1000 }, (_v, i) => ask(`_HLS_msn=20&_HLS_part=1${i % 2 === 0 ? '&_HLS_skip=YES' : ''}`));
      await new Promise((r) => setTimeout(r, 200));
      const before = upstream.length;
      assert.ok(before <= 2, `at most the first read and one blocking request so far: ${upstream.join(' ')}`);
      state = rendition(20, 2);
      changes++;
      for (const l of [...listeners]) l();
      const answers = await Promise.all(waiting);
      assert.ok(answers.every((a) => a.status === 200));
      assert.match(answers[0]?.body.toString() ?? '', /#EXT-X-SKIP:SKIPPED-SEGMENTS=/, 'a delta for who asked for one');
      assert.doesNotMatch(answers[1]?.body.toString() ?? '', /#EXT-X-SKIP/, 'the whole playlist for the others');
      assert.match(answers[1]?.body.toString() ?? '', /URI="part_s1_20_1\.m4s"/);
      assert.ok(upstream.length <= before + 2, `one full playlist fetched for the 500 who wanted it: ${upstream.slice(before).join(' ')}`);
      assert.ok(upstream.some((u) => /_HLS_msn=20&_HLS_part=1&_HLS_skip=YES/.test(u)), upstream.join(' '));
      assert.equal((await ask('_HLS_msn=30')).status, 400, 'far past the last segment');
      assert.equal((await fanout.handle('/live/other/v/index.m3u8', new URLSearchParams('_HLS_msn=1'),
        new AbortController().signal)).status, 503, 'no transcoder known for the stream');
    } finally {
      fanout.close();
      server.closeAllConnections();
      server.close();
    }
  });

  it('a transcoder that does not answer: its waiters are told at once (503; the edge then serves the storage\'s playlist), '
    + 'nothing loops, and the silence is logged once', async () => {
    // A port nothing listens on: connections are refused at once.
    const closed = http.createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as { port: number }).port;
    closed.close();
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write(chunk: Buffer, _e, done) { warnings.push(chunk.toString()); done(); } }));
    const fanout = new LowLatencyFanout(log);
    fanout.sources = { key: 'k'.repeat(20), sources: new Map([['live/cam', `127.0.0.1:${port}`]]) };
    try {
      const started = Date.now();
      const answers = await Promise.all(Array.from({ length: 50 }, () =>
        fanout.handle('/live/cam/v/index.m3u8', new URLSearchParams('_HLS_msn=20&_HLS_part=1'), new AbortController().signal)));
      assert.ok(answers.every((a) => a.status === 503), answers.map((a) => a.status).join(' '));
      assert.ok(Date.now() - started < 3000, 'told at once, not after three target durations');
      // Another rendition and a part of the same transcoder: still one warning for the address.
      const again = await fanout.handle('/live/cam/a/index.m3u8', new URLSearchParams('_HLS_msn=20&_HLS_part=2'),
        new AbortController().signal);
      assert.equal(again.status, 503);
      assert.equal((await fanout.handle('/live/cam/v/part_s1_20_3.m4s', new URLSearchParams(), new AbortController().signal)).status, 503);
      assert.equal(warnings.length, 1, warnings.join('; '));
    } finally {
      fanout.close();
    }
  });
});
