// Glass to glass, read off the picture: a test pattern whose top rows carry the wall clock (ms, the
// low 32 bits) at which each frame was made, one black or white block per bit, and a player page
// that reads the frame on screen back into a clock. Nothing of the packager's dating is involved.
import type { Browser } from 'puppeteer-core';
import { hlsJsSamples } from './chromium.js';

/** Blocks across the picture's width (a 640-pixel source: 16 pixels a block); the first 32 carry the bits. */
const BLOCKS = 40;

/**
 * An ffmpeg lavfi source (`-f lavfi -i <this>`; with -re, frames are made in real time): testsrc2 at
 * 640x360, 25 fps, its top 16 rows the clock of the frame's making.
 */
export const CLOCK_STRIP_SOURCE = "testsrc2=size=640x360:rate=25,split[a][b];[b]setpts='RTCTIME/(TB*1000000)',crop=512:16:0:0,"
  + "geq=lum='255*mod(floor(mod(T*1000\\,4294967296)/pow(2\\,floor(X/16)))\\,2)':cb=128:cr=128,format=yuv420p,setpts=N[s];"
  + '[a]setpts=N[m];[m][s]overlay=0:0';

export interface Latency {
  /** The player's clock minus the clock on the frame it shows: glass to glass. */
  picture: number;
  /** The player's clock minus the PROGRAM-DATE-TIME of what it plays: what the packager's dating says. */
  dated: number;
}

/**
 * hlsJsSamples of a stream made from CLOCK_STRIP_SOURCE: the clock read off the frame on screen, and the
 * PROGRAM-DATE-TIME it plays, each against the player's clock.
 */
export function clockStripLatency(browser: Browser, origin: string, url: string, what: string): Promise<Latency[]> {
  return hlsJsSamples<Latency>(browser, origin, url, what, `(() => { const v = document.getElementById('v');
    if (v.paused || v.readyState < 3 || !v.videoWidth || !hls.playingDate) return null;
    const c = window.strip ??= document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d', { willReadFrequently: true }); g.drawImage(v, 0, 0);
    const now = Date.now(); const block = v.videoWidth / ${BLOCKS};
    const row = g.getImageData(0, Math.floor(8 * v.videoHeight / 360), v.videoWidth, 1).data;
    let ms = 0; for (let k = 0; k < 32; k++) if (row[Math.floor((k + 0.5) * block) * 4] > 128) ms += 2 ** k;
    return { picture: (now % 2 ** 32 - ms + 2 ** 32) % 2 ** 32, dated: now - hls.playingDate.getTime() }; })()`,
  // A frame not drawn yet (or a block misread) reads as a clock far off: not a sample.
  (s) => s.picture < 60_000);
}
