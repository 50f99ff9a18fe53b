// What the API makes of a stream's settings (the cluster's defaults under the request, what a PATCH
// may change) and of a launch config written with Red5's scale policy names.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isDvrError } from '../../common/errors.js';
import { LAUNCH_CONFIG_DIR, parseLaunchConfig, type LaunchConfig } from '../../controller/launch-config.js';
import { newStream, parseStreamDefaults, patchedStream } from '../../controller/streams.js';
import { HEADROOM, parseBitrate, parseDuration, size } from '../../cli/size.js';
import { expiredRecordings, recordingsOf } from '../../controller/recordings.js';
import type { StreamRow } from '../../controller/store.js';

const throwsNaming = (fn: () => unknown, message: RegExp): void => {
  assert.throws(fn, (err: unknown) => isDvrError(err) && err.statusCode === 400 && message.test(err.message));
};

describe('stream settings through the API', () => {
  it('a new stream takes the request over the cluster\'s defaults over the schema\'s', () => {
    const plain = newStream({ app: 'live', stream: 'a' }, {});
    assert.equal(plain.settings.windowSeconds, 3600);
    assert.equal(plain.settings.format, 'fmp4');
    assert.equal(plain.settings.recording, false);
    const defaults = parseStreamDefaults({ windowSeconds: 7200, format: 'ts', forceRecording: true });
    const s = newStream({ app: 'live', stream: 'b', windowSeconds: 600 }, defaults);
    assert.deepEqual([s.settings.windowSeconds, s.settings.format, s.settings.recording], [600, 'ts', true]);
    assert.equal('forceRecording' in s.settings, false, 'the policy is not a stream setting');
    throwsNaming(() => newStream({ app: 'live', stream: 'c', recording: false }, defaults), /\$\.recording: every stream is recorded/);
  });

  it('refuses defaults that are not stream settings, naming where', () => {
    throwsNaming(() => parseStreamDefaults({ windowSeconds: -1 }, 'defaults.json'), /^defaults\.json: \$\.windowSeconds: must be >= 0/);
    throwsNaming(() => parseStreamDefaults({ app: 'live' }, 'defaults.json'), /\$: unknown field 'app'/);
    throwsNaming(() => parseStreamDefaults({ forceRecording: true, recording: false }), /\$\.recording: false contradicts forceRecording/);
    throwsNaming(() => parseStreamDefaults({ mode: 'copy', ladder: [{ name: 'a' }, { name: 'b' }] }), /copy mode takes exactly one/);
  });

  it('a PATCH changes DVR settings and signing only, and keeps what it does not name', () => {
    const { settings } = newStream({ app: 'live', stream: 'a', windowSeconds: 7200, recording: true }, {});
    const next = patchedStream(settings, { windowSeconds: 600, storageCapBytes: 10_000_000, signedPlayback: true }, {});
    assert.deepEqual([next.windowSeconds, next.storageCapBytes, next.signedPlayback, next.recording, next.format],
      [600, 10_000_000, true, true, 'fmp4']);
    throwsNaming(() => patchedStream(settings, { format: 'ts' }, {}), /\$\.format cannot change on an existing stream/);
    throwsNaming(() => patchedStream(settings, { stream: 'b' }, {}), /\$\.stream cannot change/);
    throwsNaming(() => patchedStream(settings, {}, {}), /must NOT have fewer than 1 properties/);
    throwsNaming(() => patchedStream(settings, { windowSeconds: 'long' }, {}), /\$\.windowSeconds: must be number/);
    throwsNaming(() => patchedStream(settings, { bogus: 1 }, {}), /unknown field 'bogus'/);
    throwsNaming(() => patchedStream(settings, { recording: false }, parseStreamDefaults({ forceRecording: true })),
      /every stream is recorded/);
  });
});

describe('launch configs with Red5 scale policy names', () => {
  const example = JSON.parse(readFileSync(path.join(LAUNCH_CONFIG_DIR, 'single-machine.json'), 'utf8')) as LaunchConfig;
  const withTarget = (extra: Record<string, unknown>): unknown => {
    const c = structuredClone(example) as unknown as { launchconfig: { targets: { target: Array<Record<string, unknown>> } } };
    Object.assign(c.launchconfig.targets.target[2] ?? {}, extra);
    return c;
  };

  it('takes minLimit, maxLimit, scaleAdjustment and coolDownPeriod (ms), on the target or in its scalePolicy', () => {
    const onTarget = parseLaunchConfig(withTarget({ minLimit: 2, maxLimit: 8, scaleAdjustment: 2, coolDownPeriod: 180_000 }));
    assert.deepEqual(onTarget.launchconfig.targets.target[2]?.scalePolicy, { min: 2, max: 8, increment: 2, coolDownSeconds: 180,
      scaleOutAbovePercent: 80, scaleInBelowPercent: 20, warmUpSeconds: 120 });
    const inPolicy = parseLaunchConfig(withTarget({ scalePolicy: { minLimit: 1, maxLimit: 3, scaleInBelowPercent: 10 } }));
    assert.equal(inPolicy.launchconfig.targets.target[2]?.scalePolicy?.max, 3);
    assert.equal(inPolicy.launchconfig.targets.target[2]?.scalePolicy?.scaleInBelowPercent, 10);
  });

  it('refuses a field given under both names, naming both paths', () => {
    throwsNaming(() => parseLaunchConfig(withTarget({ maxLimit: 4, scalePolicy: { min: 1, max: 5 } })),
      /\$\.launchconfig\.targets\.target\[2\]\.maxLimit: given beside \$\.launchconfig\.targets\.target\[2\]\.scalePolicy\.max/);
  });
});

describe('dvr size', () => {
  it('computes the Red5 NFS guide\'s figures: 4.5 Mb/s is about 2 GB an hour, 15 such streams write 67.5 Mb/s', () => {
    const r = size({ streams: 15, renditionsBps: [4.5e6], windowSeconds: 7200, recordingHours: 0, viewers: 1000, edges: 2,
      nfsLinkBps: 2e9 });
    assert.equal(r.bytesPerStreamHour, 2.025e9);
    assert.equal(r.nfsWriteBps, 67.5e6);
    assert.equal(r.windowBytes, 15 * 2 * 2.025e9);
    assert.equal(r.storageBytes, r.windowBytes * HEADROOM);
    assert.equal(r.nfsReadBps, 2 * 67.5e6, 'each edge reads every rendition once');
    assert.equal(r.egressBps, 4.5e9);
    assert.equal(r.egressPerEdgeBps, 2.25e9);
    const ladder = size({ streams: 2, renditionsBps: [2.5e6, 0.8e6, 0.128e6], windowSeconds: 3600, recordingHours: 4, viewers: 10,
      edges: 1, nfsLinkBps: 1e9 });
    assert.equal(ladder.perStreamBps, 3.428e6);
    assert.equal(ladder.recordingBytes, 2 * 4 * (3.428e6 * 3600) / 8);
    assert.equal(ladder.egressBps, 10 * 2.5e6, 'viewers of the top rendition');
  });

  it('reads bit rates and durations as a sysadmin writes them', () => {
    assert.deepEqual(['4.5M', '2500k', '128000', '2G', '1.5Mbps', 'fast', '0'].map(parseBitrate),
      [4.5e6, 2.5e6, 128000, 2e9, 1.5e6, undefined, undefined]);
    assert.deepEqual(['2h', '30m', '7d', '3600', '90s', 'soon'].map(parseDuration), [7200, 1800, 604800, 3600, 90, undefined]);
  });
});

describe('recordings', () => {
  const row = (stream: string, over: Partial<StreamRow>): StreamRow => ({ app: 'live', stream, streamKey: 'k', status: 'ended',
    transcoder: undefined, endingSince: undefined, settings: newStream({ app: 'live', stream }, {}).settings, ...over });
  const H = 3_600_000;

  it('an ended event expires retentionHours after its end; 0 keeps it; a deleted one is no longer listed', () => {
    const t0 = Date.parse('2026-11-26T10:00:00Z');
    const streams = [
      row('a', { endedAt: t0, storedBytes: 5e9, settings: { ...row('a', {}).settings, retentionHours: 2, recording: true } }),
      row('b', { endedAt: t0 }),
      row('c', { endedAt: t0, mediaDeletedAt: t0 + 3 * H, settings: { ...row('c', {}).settings, retentionHours: 1 } }),
      row('d', { status: 'live', endedAt: undefined, settings: { ...row('d', {}).settings, retentionHours: 1 } }),
    ];
    assert.deepEqual(recordingsOf(streams), [
      { app: 'live', stream: 'a', kind: 'event', endedAt: '2026-11-26T10:00:00.000Z', bytes: 5e9, retentionHours: 2,
        expiresAt: '2026-11-26T12:00:00.000Z' },
      { app: 'live', stream: 'b', kind: 'window', endedAt: '2026-11-26T10:00:00.000Z', bytes: null, retentionHours: 0, expiresAt: null },
    ]);
    assert.deepEqual(expiredRecordings(streams, t0 + 2 * H - 1), []);
    assert.deepEqual(expiredRecordings(streams, t0 + 2 * H), [{ app: 'live', stream: 'a', endedAt: t0 }]);
    assert.deepEqual(expiredRecordings(streams, t0 + 100 * H), [{ app: 'live', stream: 'a', endedAt: t0 }], 'b is kept, c is gone, d runs');
  });
});
