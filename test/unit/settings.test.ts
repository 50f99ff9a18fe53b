import assert from 'node:assert/strict';
import { parseStreamSettings, settingsWarnings } from '../../packager/settings.js';

describe('stream settings', () => {
  it('fills defaults and freezes', () => {
    const s = parseStreamSettings({ app: 'live', stream: 'a' });
    assert.deepEqual(s.renditions, ['source']);
    assert.equal(s.format, 'fmp4');
    assert.equal(s.windowSeconds, 3600, 'the same defaults as the API\'s');
    assert.equal(s.archiveStrategy, 'append');
    assert.ok(Object.isFrozen(s) && Object.isFrozen(s.renditions));
  });

  it('names the JSON path of what is wrong', () => {
    assert.throws(() => parseStreamSettings({ app: 'live', stream: 'a', renditions: ['ok', '../x'], windowSeconds: -1, colour: 1 }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'DVR_ERR_CONFIG');
        assert.match(err.message, /\$\.renditions\[1\]: must match pattern/);
        assert.match(err.message, /\$\.windowSeconds: must be >= 0/);
        assert.match(err.message, /unknown field 'colour'/);
        return true;
      });
  });

  it('warns when window (or playlist cap) x renditions / segment duration exceeds 54,000 entries', () => {
    const long = { app: 'live', stream: 'a', renditions: ['a', 'b', 'c'], windowSeconds: 86_400 };
    const w = settingsWarnings(parseStreamSettings({ ...long, playlistCapSeconds: 0 }));
    assert.ok(w.some((m) => /window 86400s .* 129600 playlist entries/.test(m)), w.join('\n'));
    assert.deepEqual(settingsWarnings(parseStreamSettings(long)), [], 'the default cap lists 3 h: 16,200 entries');
    assert.ok(settingsWarnings(parseStreamSettings({ ...long, playlistCapSeconds: 40_000 })).some((m) => /playlist cap 40000s/.test(m)));
    assert.equal(settingsWarnings(parseStreamSettings({ app: 'live', stream: 'a', windowSeconds: 3600, format: 'fmp4' })).length, 0);
  });
});
