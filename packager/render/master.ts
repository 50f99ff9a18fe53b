// Master playlist: one variant per rendition, attributes measured from the media.
import { THUMB_TRACK } from '../../common/edge-paths.js';

export interface VariantInfo {
  rendition: string;
  /** Peak segment bit rate, bits/s. */
  bandwidth: number;
  /** Mean bit rate over the listed segments, bits/s. */
  averageBandwidth: number;
  codecs: string[];
  width: number | undefined;
  height: number | undefined;
  frameRate: number | undefined;
}

/** The SESSION-DATA that names the DVR window's length in seconds. */
export const WINDOW_DATA_ID = 'org.dvr-appliance.window';
/** The SESSION-DATA that names when the event started (ISO 8601). */
export const EVENT_START_DATA_ID = 'org.dvr-appliance.event-start';

const isAudioCodec = (c: string): boolean => c.startsWith('mp4a') || c.startsWith('ac-3') || c.startsWith('ec-3');

export function isAudioOnly(v: VariantInfo): boolean {
  return v.codecs.length > 0 && v.codecs.every(isAudioCodec);
}

/**
 * A demuxed ladder (video-only renditions beside an audio-only one, as CMAF wants) gets an
 * audio rendition group: each video variant names it, and its CODECS and BANDWIDTH include it.
 * `dvr`: where the media playlists list less than the DVR window (the playlist cap), how far back
 * the window reaches and when the event started, as session data a player may read to reach the
 * rest through the time-shift URLs (other players ignore it).
 */
export function renderMaster(variants: VariantInfo[], fmp4: boolean, dvr?: { windowSeconds: number; eventStartMs: number }): string {
  let out = `#EXTM3U\n#EXT-X-VERSION:${fmp4 ? 6 : 3}\n#EXT-X-INDEPENDENT-SEGMENTS\n`;
  if (dvr) {
    out += `#EXT-X-SESSION-DATA:DATA-ID="${WINDOW_DATA_ID}",VALUE="${Math.round(dvr.windowSeconds)}"\n`;
    out += `#EXT-X-SESSION-DATA:DATA-ID="${EVENT_START_DATA_ID}",VALUE="${new Date(dvr.eventStartMs).toISOString()}"\n`;
  }
  const sorted = [...variants].sort((a, b) => b.bandwidth - a.bandwidth || a.rendition.localeCompare(b.rendition));
  const audio = sorted.find(isAudioOnly);
  const demuxed = audio !== undefined && sorted.some((v) => !isAudioOnly(v) && !v.codecs.some(isAudioCodec));
  const audioGroup = (group: string, uri: string): string => `TYPE=AUDIO,GROUP-ID="${group}",NAME="${audio?.rendition ?? ''}",`
    + `DEFAULT=YES,AUTOSELECT=YES,URI="${uri}${audio?.rendition ?? ''}/index.m3u8"\n`;
  if (audio && demuxed) out += `#EXT-X-MEDIA:${audioGroup('audio', '')}`;
  let backup = audio && demuxed ? `${BACKUP_MEDIA}${audioGroup('audio-backup', BACKUP_URI)}` : '';
  for (const v of sorted) {
    const joinAudio = audio && demuxed && !isAudioOnly(v) && !v.codecs.some(isAudioCodec);
    const bandwidth = v.bandwidth + (joinAudio ? audio.bandwidth : 0);
    const average = v.averageBandwidth + (joinAudio ? audio.averageBandwidth : 0);
    const codecs = joinAudio ? [...v.codecs, ...audio.codecs] : v.codecs;
    const attrs = [`BANDWIDTH=${Math.ceil(bandwidth)}`, `AVERAGE-BANDWIDTH=${Math.ceil(average)}`];
    if (codecs.length > 0) attrs.push(`CODECS="${codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    out += `#EXT-X-STREAM-INF:${[...attrs, ...(joinAudio ? ['AUDIO="audio"'] : [])].join(',')}\n${v.rendition}/index.m3u8\n`;
    backup += `${BACKUP_STREAM_INF}${[...attrs, ...(joinAudio ? ['AUDIO="audio-backup"'] : [])].join(',')}\n`
      + `${BACKUP_URI}${v.rendition}/index.m3u8\n`;
  }
  return out + backup + imageStream(sorted);
}

/**
 * Redundant variant streams, for players without content steering: each variant (and the audio
 * group) again, on lines that are comments as written (`#` and not `#EXT`: players ignore them).
 * An edge that has another edge to name turns them into variants of that edge's pathway with
 * absolute URIs there (nginx's sub_filter: the markers become the tags and the other edge's base
 * URL); a lone edge, a relay and the time-shift service leave them as they are.
 */
export const BACKUP_MEDIA = '#DVR-BACKUP-MEDIA:';
export const BACKUP_STREAM_INF = '#DVR-BACKUP-STREAM-INF:';
export const BACKUP_URI = '#DVR-BACKUP-URI:';

/** The thumbnails' width, as the master playlist's thumbnail track names it and the edge makes them. */
export const THUMBNAIL_WIDTH = 160;

/**
 * The thumbnail track (an image media playlist, as Roku and Shaka Player read them): every edge
 * lists a picture per segment of the lowest video rendition (thumbs.m3u8) and makes each when it
 * is first asked for, so ingest pays nothing for it.
 */
function imageStream(sorted: VariantInfo[]): string {
  const lowest = [...sorted].reverse().find((v) => v.width && v.height && !isAudioOnly(v));
  if (!lowest?.width || !lowest.height) return '';
  const height = 2 * Math.round((THUMBNAIL_WIDTH * lowest.height) / lowest.width / 2);
  return `${IMAGE_STREAM_TAG}BANDWIDTH=${IMAGE_BANDWIDTH},RESOLUTION=${THUMBNAIL_WIDTH}x${height},CODECS="jpeg",`
    + `URI="${THUMB_TRACK}"\n`;
}

/** A 160-pixel JPEG every 2 s or so: about 8 KB, 32 kbit/s. */
const IMAGE_BANDWIDTH = 32_000;

const IMAGE_STREAM_TAG = '#EXT-X-IMAGE-STREAM-INF:';

/** A master playlist without its thumbnail track (where nothing serves it: a range, a moved recording). */
export function withoutImageStream(master: string): string {
  return master.split('\n').filter((l) => !l.startsWith(IMAGE_STREAM_TAG)).join('\n');
}
