// Headless Chromium (the Debian package) for the player tests: flags that keep a page in the
// background playing as a viewer's would, and a bare page on an edge's origin with a player script.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { until } from './run.js';

const CHROMIUM = '/usr/lib/chromium/chromium';

/** Whether Chromium is installed (a suite without it is skipped and says so). */
export async function hasChromium(): Promise<boolean> {
  return fs.access(CHROMIUM).then(() => true, () => false);
}

export function launchChromium(): Promise<Browser> {
  return puppeteer.launch({ executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'] });
}

/** A page of the edge's origin (an http page like any viewer's) holding a muted <video id="v"> and the player `script`. */
export async function videoPage(page: Page, edgeUrl: string, script: string): Promise<Page> {
  await page.goto(`${edgeUrl}/_time`);
  await page.setContent('<video id="v" muted style="width:320px"></video>');
  await page.addScriptTag({ path: script });
  return page;
}

/** hls.js as the package installs it (dist/test/support is three levels below the checkout). */
export const HLS_JS = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules/hls.js/dist/hls.min.js');

/**
 * hls.js (low-latency mode) in a new page of `browser` on `origin`, playing `url` (as `window.hls`): 40
 * samples, 4 a second, of `sample` (a script's expression, null while there is nothing to take), of
 * which the first 10 (while it settles) are dropped.
 */
export async function hlsJsSamples<T>(browser: Browser, origin: string, url: string, what: string, sample: string,
  keep: (s: T) => boolean = () => true): Promise<T[]> {
  const page = await browser.newPage();
  try {
    await videoPage(page, origin, HLS_JS);
    await page.evaluate(`(() => { const v = document.getElementById('v'); const hls = new Hls({ lowLatencyMode: true });
      hls.loadSource(${JSON.stringify(url)}); hls.attachMedia(v); v.play(); window.hls = hls; })()`);
    const samples: T[] = [];
    await until(`hls.js on ${what}`, async () => {
      const s = await page.evaluate(sample).catch(() => null) as T | null;
      if (s !== null && keep(s)) samples.push(s);
      return samples.length >= 40 ? true : undefined;
    }, 120_000, 250);
    return samples.slice(10);
  } finally {
    await page.close();
  }
}

/** hlsJsSamples of the player's clock minus the PROGRAM-DATE-TIME it plays (ms). */
export function hlsJsLatency(browser: Browser, origin: string, url: string, what: string): Promise<number[]> {
  return hlsJsSamples<number>(browser, origin, url, what, `(() => { const v = document.getElementById('v');
    return !v.paused && v.readyState >= 3 && hls.playingDate ? Date.now() - hls.playingDate.getTime() : null; })()`);
}
