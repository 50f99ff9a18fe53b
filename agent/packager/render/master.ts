// Master playlist: one variant per rendition, attributes measured from the media.

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

export function renderMaster(variants: VariantInfo[], fmp4: boolean): string {
  let out = `#EXTM3U\n#EXT-X-VERSION:${fmp4 ? 6 : 3}\n#EXT-X-INDEPENDENT-SEGMENTS\n`;
  const sorted = [...variants].sort((a, b) => b.bandwidth - a.bandwidth || a.rendition.localeCompare(b.rendition));
  for (const v of sorted) {
    const attrs = [`BANDWIDTH=${Math.ceil(v.bandwidth)}`, `AVERAGE-BANDWIDTH=${Math.ceil(v.averageBandwidth)}`];
    if (v.codecs.length > 0) attrs.push(`CODECS="${v.codecs.join(',')}"`);
    if (v.width && v.height) attrs.push(`RESOLUTION=${v.width}x${v.height}`);
    if (v.frameRate) attrs.push(`FRAME-RATE=${v.frameRate.toFixed(3)}`);
    out += `#EXT-X-STREAM-INF:${attrs.join(',')}\n${v.rendition}/index.m3u8\n`;
  }
  return out;
}
