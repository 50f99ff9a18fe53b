import assert from 'node:assert/strict';
import { DOMParser } from '@xmldom/xmldom';
import { renderMpd, type DashInput, type DashRendition } from '../../packager/render/dash.js';
import { renderMpdPatch } from '../../packager/render/dash-patch.js';
import type { VariantInfo } from '../../packager/render/master.js';
import { SegmentIndex } from '../../packager/index/segment-index.js';
import { windowHead } from '../../packager/index/window.js';

// Each patch is applied to the MPD it starts from by an RFC 5261 applier written here on a DOM
// (independent of the writer), and must give the MPD it leads to, as a player's model of it:
// elements by name, in order among those of the same name (as dash.js keeps them).

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const VIDEO: VariantInfo = { rendition: 'source', bandwidth: 2_000_000, averageBandwidth: 2_000_000, codecs: ['avc1.64001f'],
  width: 1280, height: 720, frameRate: 25 };
const AUDIO: VariantInfo = { rendition: 'audio', bandwidth: 128_000, averageBandwidth: 128_000, codecs: ['mp4a.40.2'],
  width: undefined, height: undefined, frameRate: undefined };

const elements = (n: Node): Element[] => Array.from(n.childNodes as unknown as ArrayLike<Node>)
  .filter((c): c is Element => c.nodeType === 1);

/** The element a selector names: /MPD/Name[@attr='v']/Name[n]/...; an attribute as [element, name]. */
function select(doc: Node, sel: string): { el: Element; attr?: string } {
  let cur: Node = doc;
  for (const step of sel.split('/').filter((x) => x !== '')) {
    if (step.startsWith('@')) return { el: cur as Element, attr: step.slice(1) };
    const m = /^(\w+)(?:\[(?:@(\w+)='([^']*)'|(\d+))\])?$/.exec(step);
    assert.ok(m, `selector step ${step}`);
    const named = elements(cur).filter((e) => e.nodeName === m[1]);
    const found = m[2] !== undefined ? named.find((e) => e.getAttribute(m[2] ?? '') === m[3]) : named[Number(m[4] ?? 1) - 1];
    assert.ok(found, `${sel}: no ${step}`);
    cur = found;
  }
  return { el: cur as Element };
}

function apply(mpd: string, patch: string): Node {
  const doc = new DOMParser().parseFromString(mpd, 'text/xml');
  const ops = elements(new DOMParser().parseFromString(patch, 'text/xml').documentElement as unknown as Node);
  for (const op of ops) {
    const { el, attr } = select(doc, op.getAttribute('sel') ?? '');
    const children = elements(op).map((c) => doc.importNode(c, true));
    if (attr !== undefined) {
      if (op.nodeName === 'remove') el.removeAttribute(attr);
      else el.setAttribute(attr, op.textContent ?? '');
    } else if (op.nodeName === 'add') {
      for (const c of children) el.appendChild(c);
    } else if (op.nodeName === 'replace') {
      for (const c of children) el.parentNode?.insertBefore(c, el);
      el.parentNode?.removeChild(el);
    } else if (op.nodeName === 'remove') {
      el.parentNode?.removeChild(el);
    } else {
      assert.fail(`unknown operation ${op.nodeName}`);
    }
  }
  return doc;
}

/** An element as a player models it: its attributes, and its children grouped by name. */
function model(n: Node): unknown {
  const el = n as Element;
  const attrs = Object.fromEntries(Array.from(el.attributes as unknown as ArrayLike<{ name: string; value: string }>)
    .map((a) => [a.name, a.value]).sort());
  const kids = elements(n);
  const byName: Record<string, unknown[]> = {};
  for (const k of kids) (byName[k.nodeName] ??= []).push(model(k));
  const text = kids.length === 0 ? (el.textContent ?? '').trim() : '';
  return { name: el.nodeName, attrs, children: byName, text };
}

const root = (doc: Node): Node => (doc as unknown as { documentElement: Node }).documentElement;

/** A copy-mode stream with a 40 s window, 2 s segments: video exact, audio alternating; a reconnect at 60 s. */
class Stream {
  readonly video = new SegmentIndex();
  readonly audio = new SegmentIndex();
  private k = 0;
  private wall = T0;

  add(durationUs = 2_000_000, disc = 0): void {
    const frame = (1024 / 48_000) * 1e6;
    const cut = (n: number): number => Math.round(Math.ceil((n * 2e6) / frame - 1e-9) * frame);
    const seq = this.video.nextSequence;
    this.video.push({ seq, startMs: this.wall, durationUs, disc, mediaStartUs: this.k * 2e6, bytes: 1 });
    this.audio.push({ seq, startMs: this.wall, durationUs: cut(this.k + 1) - cut(this.k), disc, mediaStartUs: cut(this.k), bytes: 1 });
    this.wall += durationUs / 1000;
    this.k++;
  }

  mpd(publishMs: number, ended = false): string {
    const from = (i: SegmentIndex): number => windowHead(i, 0, 40, 2);
    while (this.video.length > 0 && from(this.video) > 3) { this.video.shift(); this.audio.shift(); }
    const reps: DashRendition[] = [{ info: VIDEO, index: this.video, from: from(this.video) },
      { info: AUDIO, index: this.audio, from: from(this.audio), segmentUs: 2e6 }];
    const input: DashInput = { renditions: reps, availabilityStartMs: T0, windowSeconds: 40, target: 2, ended, publishMs,
      patch: { mpdId: `e${T0}`, location: `manifest-patch-${publishMs}.mpp`, ttlSeconds: 6 } };
    return renderMpd(input);
  }
}

describe('MPD patches', () => {
  it('turn each live MPD into a later one, across growth, the window sliding, a new Period and the old one leaving', () => {
    const s = new Stream();
    const versions: string[] = [];
    for (let k = 0; k < 60; k++) {
      // A reconnect after 30 segments: a new discontinuity, a new Period.
      s.add(2_000_000, k < 30 ? 0 : 1);
      versions.push(s.mpd(T0 + 1000 + k * 2000));
    }
    assert.ok(versions.some((v) => /<Period id="p1"/.test(v)) && !/<Period id="p0"/.test(versions[versions.length - 1] ?? ''),
      'the second Period comes and the first leaves the window');
    let largest = 0;
    // A Period is sent whole again only when its representations change (the audio's part of it leaves the window first).
    let wholes = 0;
    for (let k = 0; k + 1 < versions.length; k++) {
      for (const later of [k + 1, k + 2, k + 3]) {
        const older = versions[k] ?? '';
        const newer = versions[later];
        if (newer === undefined) continue;
        const patch = renderMpdPatch(older, newer);
        assert.ok(patch, `a patch from version ${k} to ${later}`);
        assert.deepEqual(model(root(apply(older, patch))), model(root(new DOMParser().parseFromString(newer, 'text/xml'))),
          `version ${k} patched to ${later}:\n${patch}`);
        const whole = /<replace sel="\/MPD\/Period\[@id='p\d+'\]">/.test(patch);
        if (later === k + 1 && whole) wholes++;
        if (later === k + 1 && !whole && !patch.includes('<add sel="/MPD">')) largest = Math.max(largest, patch.length);
      }
    }
    assert.ok(largest < 1500, `a one-segment patch is at most ${largest} bytes`);
    assert.ok(wholes <= 1, `${wholes} patches sent a Period whole`);
  });

  it('keep a long irregular timeline\'s update small: three hours of uneven video sliding, a patch under 1.2 KB', () => {
    const s = new Stream();
    // Keyframes every 1.5 s cut at 2 s: 3 s, 1.5 s, 1.5 s, 3 s, ...: nothing folds but the two 1.5 s.
    const uneven = [3_000_000, 1_500_000, 1_500_000];
    const listed = 5400;
    const input = (publishMs: number): DashInput => ({
      renditions: [{ info: VIDEO, index: s.video, from: Math.max(0, s.video.length - listed) }], availabilityStartMs: T0,
      windowSeconds: 10_800, target: 3, ended: false, publishMs,
      patch: { mpdId: `e${T0}`, location: `p-${publishMs}.mpp`, ttlSeconds: 8 } });
    for (let k = 0; k < listed; k++) s.add(uneven[k % 3]);
    let older = renderMpd(input(T0 + 1));
    for (let k = listed; k < listed + 7; k++) {
      s.add(uneven[k % 3]);
      if (k % 2 === 0) s.video.shift();
      const newer = renderMpd(input(T0 + 2 + k));
      const patch = renderMpdPatch(older, newer);
      assert.ok(patch && patch.length < 1200, `the MPD is ${newer.length} bytes, its patch ${patch?.length}`);
      assert.ok(newer.length > 50_000);
      assert.deepEqual(model(root(apply(older, patch))), model(root(new DOMParser().parseFromString(newer, 'text/xml'))),
        `segment ${k}:\n${patch}`);
      older = newer;
    }
  });

  it('is not written where a player must reload: the event ended, or another event', () => {
    const s = new Stream();
    for (let k = 0; k < 5; k++) s.add();
    const live = s.mpd(T0 + 10_000);
    assert.equal(renderMpdPatch(live, s.mpd(T0 + 12_000, true)), undefined, 'a static MPD replaces a live one');
    assert.equal(renderMpdPatch(live, s.mpd(T0 + 12_000).replace(`id="e${T0}"`, 'id="e1"')), undefined);
  });
});
