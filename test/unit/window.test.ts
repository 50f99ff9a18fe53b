import assert from 'node:assert/strict';
import { capTrim, purgeUpTo, windowHead } from '../../packager/index/window.js';
import { makeIndex } from '../support/index-fixture.js';

describe('DVR window and purge', () => {
  const settings = { windowSeconds: 60, recording: false, storageCapBytes: 0 };

  it('counts the window in seconds, not segments', () => {
    const twoSecond = makeIndex(100, 2);
    const sixSecond = makeIndex(100, 6);
    assert.equal(twoSecond.length - windowHead(twoSecond, 0, settings.windowSeconds, 2), 30);
    assert.equal(sixSecond.length - windowHead(sixSecond, 0, settings.windowSeconds, 6), 10);
  });

  it('deletes a segment only after the window plus its duration plus the longest playlist (RFC 8216 6.2.2)', () => {
    const index = makeIndex(200, 2);
    const head = windowHead(index, 0, settings.windowSeconds, 2);
    const upTo = purgeUpTo(index, 0, head, settings, 2);
    assert.ok(upTo < head, 'something that left the window is still kept');
    const liveEnd = index.endMsAt(index.length - 1);
    for (let p = 0; p < upTo; p++) {
      // It left the window at end + 60 s; the longest playlist lasted at most 62 s more.
      assert.ok(liveEnd - index.endMsAt(p) >= 60_000 + 2_000 + 62_000, `segment ${p} deleted too early`);
    }
    const first = upTo;
    assert.ok(liveEnd - index.endMsAt(first) < 60_000 + 2_000 + 62_000 + 2_000, 'and not kept much longer');
  });

  it('never deletes an unbounded window or a recording', () => {
    const index = makeIndex(500, 2);
    assert.equal(purgeUpTo(index, 0, 400, { ...settings, windowSeconds: 0 }, 2), 0);
    assert.equal(purgeUpTo(index, 0, 400, { ...settings, recording: true }, 2), 0);
  });

  it('a storage cap trims the oldest media first but keeps three target durations', () => {
    const index = makeIndex(100, 2); // 1000 bytes each
    assert.equal(capTrim(index, 0, { ...settings, storageCapBytes: 10_000 }, 2), 90);
    assert.equal(capTrim(index, 0, { ...settings, storageCapBytes: 1 }, 2), 97);
    assert.equal(capTrim(index, 0, { ...settings, storageCapBytes: 0 }, 2), 0);
  });
});
