import assert from 'node:assert/strict';
import { parse, setOptions, types } from 'hls-parser';
import { renderMaster, type VariantInfo } from '../../packager/render/master.js';

// Checked by an independent parser (hls-parser, strict) as a player would read it, and by the
// text where the exact form of an attribute matters. renderMaster never writes
// EXT-X-SERVER-CONTROL, the one tag whose strict reading goes beyond RFC 8216bis (see lab/drill.ts).
function parseMaster(text: string): types.MasterPlaylist {
  const p = parse(text);
  assert.ok(p instanceof types.MasterPlaylist, 'hls-parser reads a master playlist');
  return p;
}

const video = (rendition: string, height: number, bandwidth: number, over: Partial<VariantInfo> = {}): VariantInfo => ({
  rendition, bandwidth, averageBandwidth: bandwidth * 0.8, codecs: ['avc1.64001f', 'mp4a.40.2'],
  width: Math.round((height * 16) / 9), height, frameRate: 25, ...over,
});
const audioOnly = (rendition: string, bandwidth: number): VariantInfo => ({
  rendition, bandwidth, averageBandwidth: bandwidth, codecs: ['mp4a.40.2'], width: undefined, height: undefined, frameRate: undefined,
});
/** A CMAF ladder's video rendition: no audio of its own. */
const videoOnly = (rendition: string, height: number, bandwidth: number): VariantInfo =>
  video(rendition, height, bandwidth, { codecs: ['avc1.64001f'] });

describe('master playlist rendering', () => {
  before(() => setOptions({ strictMode: true }));

  it('writes each variant (and the audio group) again as comments, which an edge with another to name turns into '
    + 'redundant variants there', () => {
    const ladder = [videoOnly('720p', 720, 2_000_000), videoOnly('360p', 360, 700_000), audioOnly('audio', 96_000)];
    const text = renderMaster(ladder, true);
    const plain = parseMaster(text);
    assert.deepEqual(plain.variants.map((v) => v.uri), ['720p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8'],
      'as written, players see comments');
    assert.deepEqual(text.split('\n').filter((l) => l.startsWith('#DVR-')).map((l) => l.split(':')[0]),
      ['#DVR-BACKUP-MEDIA', ...Array<string[]>(3).fill(['#DVR-BACKUP-STREAM-INF', '#DVR-BACKUP-URI']).flat()]);
    // What the edge's nginx does with them (nginx/render.ts hlsSteering) when it names edge-2.
    const other = 'http://10.0.0.6:8080/live/cam/';
    const steered = text.replaceAll('#EXT-X-STREAM-INF:', '#EXT-X-STREAM-INF:PATHWAY-ID="edge-1",')
      .replaceAll('#DVR-BACKUP-MEDIA:', '#EXT-X-MEDIA:').replaceAll('#DVR-BACKUP-STREAM-INF:', '#EXT-X-STREAM-INF:PATHWAY-ID="edge-2",')
      .replaceAll('#DVR-BACKUP-URI:', other);
    const p = parseMaster(steered);
    assert.deepEqual(p.variants.map((v) => [v.uri, v.bandwidth, v.audio.map((a) => [a.groupId, a.uri])]), [
      ['720p/index.m3u8', 2_096_000, [['audio', 'audio/index.m3u8']]],
      ['360p/index.m3u8', 796_000, [['audio', 'audio/index.m3u8']]],
      ['audio/index.m3u8', 96_000, []],
      [`${other}720p/index.m3u8`, 2_096_000, [['audio-backup', `${other}audio/index.m3u8`]]],
      [`${other}360p/index.m3u8`, 796_000, [['audio-backup', `${other}audio/index.m3u8`]]],
      [`${other}audio/index.m3u8`, 96_000, []],
    ]);
  });

  it('lists every rendition, highest bandwidth first, with what the media measured', () => {
    const text = renderMaster([
      video('360p', 360, 800_000, { averageBandwidth: 612_345.2 }),
      video('1080p', 1080, 5_000_000.1, { codecs: ['avc1.640028', 'mp4a.40.2'], frameRate: 30000 / 1001 }),
      video('720p', 720, 2_500_000),
    ], false);
    const p = parseMaster(text);
    assert.deepEqual(p.variants.map((v) => v.uri), ['1080p/index.m3u8', '720p/index.m3u8', '360p/index.m3u8'],
      'a player starting on the first variant gets the best one');
    const [top, , low] = p.variants;
    assert.equal(top?.bandwidth, 5_000_001, 'BANDWIDTH is a peak: rounded up, never down');
    assert.equal(top?.averageBandwidth, 4_000_001);
    assert.equal(low?.averageBandwidth, 612_346);
    assert.equal(top?.codecs, 'avc1.640028,mp4a.40.2');
    assert.deepEqual(top?.resolution, { width: 1920, height: 1080 });
    assert.equal(top?.frameRate, 29.97);
    assert.match(text, /FRAME-RATE=29\.970[,\n]/, 'FRAME-RATE has three decimals');
    assert.match(text, /FRAME-RATE=25\.000[,\n]/);
    assert.ok(p.variants.every((v) => v.audio.length === 0), 'muxed renditions carry their own audio: no audio group');
  });

  it('names the thumbnail track: 160 pixels wide, of the lowest video rendition\'s shape; none for audio only', () => {
    const text = renderMaster([video('720p', 720, 2_500_000), video('360p', 360, 800_000, { width: 480 })], true);
    assert.match(text, /\n#EXT-X-IMAGE-STREAM-INF:BANDWIDTH=\d+,RESOLUTION=160x120,CODECS="jpeg",URI="thumbs\.m3u8"\n$/,
      'a 480x360 picture is 160x120');
    assert.equal(parseMaster(text).variants.length, 2, 'not a variant for players that do not read it');
    assert.doesNotMatch(renderMaster([audioOnly('audio', 128_000)], true), /IMAGE-STREAM-INF/);
  });

  it('TS needs no more than version 3; fMP4 says version 6 (EXT-X-MAP in its media playlists)', () => {
    const ts = parseMaster(renderMaster([video('720p', 720, 2_500_000)], false));
    const fmp4 = parseMaster(renderMaster([video('720p', 720, 2_500_000)], true));
    assert.equal(ts.version, 3);
    assert.equal(fmp4.version, 6);
    assert.ok(ts.independentSegments && fmp4.independentSegments, 'every segment starts with a keyframe');
  });

  it('groups the audio rendition of a demuxed (CMAF) ladder and adds it to each video variant', () => {
    const audio = audioOnly('audio', 128_000.5);
    const text = renderMaster([videoOnly('360p', 360, 800_000), audio, videoOnly('720p', 720, 2_500_000)], true);
    const p = parseMaster(text);
    const [hi, lo, aud] = p.variants;
    assert.deepEqual(p.variants.map((v) => v.uri), ['720p/index.m3u8', '360p/index.m3u8', 'audio/index.m3u8']);
    for (const [v, own] of [[hi, 2_500_000], [lo, 800_000]] as const) {
      assert.equal(v?.bandwidth, Math.ceil(own + 128_000.5), `${v?.uri}: BANDWIDTH includes the audio it plays with`);
      assert.equal(v?.averageBandwidth, Math.ceil(own * 0.8 + 128_000.5));
      assert.equal(v?.codecs, 'avc1.64001f,mp4a.40.2', `${v?.uri}: CODECS names the audio codec too`);
      assert.equal(v?.audio.length, 1, `${v?.uri} names the audio group`);
      assert.equal(v?.audio[0]?.groupId, 'audio');
      assert.equal(v?.audio[0]?.uri, 'audio/index.m3u8');
      assert.equal(v?.audio[0]?.isDefault, true);
      assert.equal(v?.audio[0]?.autoselect, true);
    }
    assert.equal(aud?.bandwidth, 128_001, 'the audio-only variant, for players on a thin link');
    assert.equal(aud?.codecs, 'mp4a.40.2');
    assert.equal(aud?.resolution, undefined);
    assert.equal(aud?.audio.length, 0);
    assert.equal(text.match(/^#EXT-X-MEDIA:/gm)?.length, 1);
  });

  it('a muxed ladder with an extra audio-only variant gets no group: the video variants play their own audio', () => {
    const text = renderMaster([video('720p', 720, 2_500_000), audioOnly('radio', 64_000)], false);
    const p = parseMaster(text);
    assert.doesNotMatch(text, /EXT-X-MEDIA/);
    assert.equal(p.variants[0]?.bandwidth, 2_500_000, 'no audio added to a variant that has its own');
    assert.equal(p.variants[0]?.audio.length, 0);
    assert.equal(p.variants[1]?.uri, 'radio/index.m3u8');
    assert.equal(p.variants[1]?.codecs, 'mp4a.40.2');
    assert.equal(p.variants[1]?.frameRate, undefined);
  });

  it('an audio-only stream lists its renditions as plain variants', () => {
    const text = renderMaster([audioOnly('aac64', 64_000), audioOnly('aac128', 128_000)], true);
    const p = parseMaster(text);
    assert.deepEqual(p.variants.map((v) => [v.uri, v.bandwidth, v.codecs, v.resolution, v.audio.length]),
      [['aac128/index.m3u8', 128_000, 'mp4a.40.2', undefined, 0], ['aac64/index.m3u8', 64_000, 'mp4a.40.2', undefined, 0]]);
    assert.doesNotMatch(text, /EXT-X-MEDIA/, 'no video variant needs an audio group');
  });

  it('leaves out what was not measured instead of writing empty or zero attributes', () => {
    const text = renderMaster([{ rendition: 'src', bandwidth: 1_000_000, averageBandwidth: 900_000, codecs: [],
      width: undefined, height: 720, frameRate: 0 }], false);
    const p = parseMaster(text);
    assert.doesNotMatch(text, /CODECS|RESOLUTION|FRAME-RATE/);
    assert.equal(p.variants[0]?.codecs, undefined);
    assert.equal(p.variants[0]?.bandwidth, 1_000_000);
    assert.equal(p.variants[0]?.averageBandwidth, 900_000);
  });

  it('orders renditions of equal bandwidth by name, so the playlist does not change between writes', () => {
    const a = renderMaster([video('b', 720, 1_000_000), video('a', 720, 1_000_000), video('c', 360, 500_000)], false);
    const b = renderMaster([video('c', 360, 500_000), video('a', 720, 1_000_000), video('b', 720, 1_000_000)], false);
    assert.equal(a, b);
    assert.deepEqual(parseMaster(a).variants.map((v) => v.uri), ['a/index.m3u8', 'b/index.m3u8', 'c/index.m3u8']);
  });
});
