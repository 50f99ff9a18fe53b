// Headless Chromium (the Debian package) for the player tests: flags that keep a page in the
// background playing as a viewer's would, and a bare page on an edge's origin with a player script.
import { promises as fs } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

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
