// One home for each rule: the name rule and the edge's URL shapes are written in common/names.ts and
// common/edge-paths.ts only. The player page (static JavaScript, not built) keeps its own copies of
// the patterns; this fails when one drifts, and when the rule is written again anywhere else.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIGNED_PREFIX_SOURCE, signedPrefix } from '../../common/edge-paths.js';
import { NAME_PATTERN, NAME_SOURCE } from '../../common/names.js';
import { signedPlaybackPath } from '../../nginx/signing.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Every source file of the project (not its tests), relative to the root. */
async function sources(): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await fs.readdir(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) await walk(rel);
      else if (/\.(ts|cts)$/.test(e.name)) out.push(rel);
    }
  };
  const parts = ['agent', 'appliance', 'bin', 'cli', 'common', 'controller', 'lab', 'nginx', 'packager', 'provisioning'];
  for (const dir of parts) await walk(dir);
  return out;
}

describe('the contract has one home', () => {
  it('the name rule [a-z0-9_-]{1,64} is written in common/names.ts only', async () => {
    const written: string[] = [];
    for (const file of await sources()) {
      const text = await fs.readFile(path.join(ROOT, file), 'utf8');
      if (text.includes('a-z0-9_-]{1,64}') && file !== path.join('common', 'names.ts')) written.push(file);
    }
    assert.deepEqual(written, [], 'these write the name rule again instead of importing it from common/names.ts');
  });

  it('the player page\'s patterns are the contract\'s: a name, and a stream\'s (maybe signed) master playlist', async () => {
    const player = await fs.readFile(path.join(ROOT, 'web', 'player', 'player.js'), 'utf8');
    const name = /const NAME = \/(.+)\/;/.exec(player)?.[1];
    assert.equal(name, new RegExp(NAME_PATTERN).source, 'web/player/player.js: NAME');
    const master = /\/(\^\(\(\?:\\\/s\\\/.+master\\\.m3u8\$)\//.exec(player)?.[1];
    const expected = new RegExp(`^((?:${SIGNED_PREFIX_SOURCE})?/${NAME_SOURCE}/${NAME_SOURCE})/master\\.m3u8$`).source;
    assert.equal(master, expected, 'web/player/player.js: the master playlist of a stream on this edge, signed or not');
  });

  it('a signed path is the prefix the contract describes, followed by the stream\'s path', () => {
    const p = signedPlaybackPath('a-secret-of-sixteen-chars', 'live', 'cam', 'master.m3u8', 1_800_000_000);
    const m = new RegExp(`^(${SIGNED_PREFIX_SOURCE})/live/cam/master\\.m3u8$`).exec(p);
    assert.ok(m, p);
    assert.equal(m[1], signedPrefix(1_800_000_000, p.split('/')[3] ?? ''));
  });
});
