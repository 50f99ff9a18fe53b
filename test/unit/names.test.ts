import assert from 'node:assert/strict';
import { checkName } from '../../common/names.js';
import { parseIncomingName, parseSegmentName, segmentName, streamPaths } from '../../packager/layout.js';

describe('stream and rendition names', () => {
  for (const bad of ['a/../b', '..', 'a/b', 'a\\b', 'a\u0000b', 'tab\there', 'x'.repeat(65), '', 'Upper', 'a b', '.hidden']) {
    it(`refuses ${JSON.stringify(bad)} with a clear error`, () => {
      assert.throws(() => checkName('stream', bad), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'DVR_ERR_NAME');
        assert.match(err.message, /stream name .* may contain only \[a-z0-9_-\], 1-64 chars/);
        return true;
      });
    });
  }

  it('accepts ordinary names and builds paths under the root only', () => {
    const p = streamPaths('/srv/media', 'live', 'event_2026-11');
    assert.equal(p.dir, '/srv/media/live/event_2026-11');
    assert.throws(() => streamPaths('/srv/media', 'live', '../etc'), /DVR_ERR_NAME|may contain only/);
  });
});

describe('canonical segment names', () => {
  it('carry sequence, wall-clock start, duration, discontinuity and media time, and sort by time', () => {
    const s = { seq: 42, startMs: 1_795_400_000_123, durationUs: 2_002_000, disc: 3, mediaStartUs: 12_345_678 };
    const name = segmentName(s, 'ts');
    assert.equal(name, '000000042_1795400000123_2002000_3_12345678.ts');
    assert.deepEqual(parseSegmentName(name), { ...s, ext: 'ts' });
    assert.ok(segmentName({ ...s, seq: 9 }, 'ts') < name);
  });

  it('ignores temp names and foreign files', () => {
    assert.equal(parseSegmentName('.000000042_1795400000123_2002000_3_1.ts.ab12.tmp'), undefined);
    assert.equal(parseSegmentName('index.m3u8'), undefined);
    assert.equal(parseIncomingName('s1-3.ts.tmp'), undefined);
    assert.deepEqual(parseIncomingName('sabc-12.m4s'), { kind: 'segment', session: 'sabc', n: 12, ext: 'm4s' });
    assert.deepEqual(parseIncomingName('sabc-init.mp4'), { kind: 'init', session: 'sabc' });
  });
});
