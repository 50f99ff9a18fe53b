// MPD Patch (ISO/IEC 23009-1 5th ed. 5.15, RFC 5261 operations): what changed between two live
// MPDs this renderer wrote, so that a player holding the older one fetches a few hundred bytes
// instead of the whole MPD. Live MPDs change at their ends only (a segment joins the newest run or
// starts one, the window drops the oldest, a Period comes or goes, publishTime moves); anything
// else gets no patch and the player reloads the MPD. Pure.

/** One Representation's SegmentTemplate: its address, its attributes (startNumber moves with the window) and its <S> elements. */
interface Timeline { sel: string; attrs: Map<string, string>; s: string[] }

interface Period { id: string; text: string; skeleton: string; timelines: Timeline[] }

/** An MPD as a patch compares it: read once per version, compared with each newer one. */
export interface ParsedMpd { attrs: Map<string, string>; patchLocation: string | undefined; periods: Period[] }

const attrsOf = (tag: string): Map<string, string> => new Map([...tag.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? '', m[2] ?? '']));

export function parseMpd(mpd: string): ParsedMpd | undefined {
  const root = /<MPD ([^>]*)>/.exec(mpd);
  if (!root) return undefined;
  const periods: Period[] = [];
  for (const p of mpd.matchAll(/<Period id="([^"]+)"[^>]*>[^]*?<\/Period>\n/g)) {
    const id = p[1] ?? '';
    const text = p[0];
    const timelines: Timeline[] = [];
    for (const set of text.matchAll(/<AdaptationSet id="(\d+)"[^>]*>[^]*?<\/AdaptationSet>/g)) {
      const reps = /<Representation id="([^"]+)"[^>]*>\n<SegmentTemplate ([^>]*)>\n<SegmentTimeline>(.*?)<\/SegmentTimeline>/g;
      for (const rep of (set[0]).matchAll(reps)) {
        timelines.push({ sel: `/MPD/Period[@id='${id}']/AdaptationSet[@id='${set[1] ?? ''}']/Representation[@id='${rep[1] ?? ''}']`
          + '/SegmentTemplate', attrs: attrsOf(rep[2] ?? ''), s: (rep[3] ?? '').match(/<S [^>]*\/>/g) ?? [] });
      }
    }
    const skeleton = text.replace(/<SegmentTemplate [^>]*>/g, '').replace(/<SegmentTimeline>.*?<\/SegmentTimeline>/g, '');
    periods.push({ id, text, skeleton, timelines });
  }
  return { attrs: attrsOf(root[1] ?? ''), patchLocation: /<PatchLocation[^>]*>[^<]*<\/PatchLocation>/.exec(mpd)?.[0], periods };
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Replaces the attributes that changed; undefined when one comes or goes. */
function attributeOps(sel: string, a: Map<string, string>, b: Map<string, string>): string[] | undefined {
  const ops: string[] = [];
  for (const name of new Set([...a.keys(), ...b.keys()])) {
    const was = a.get(name);
    const now = b.get(name);
    if (was === undefined || now === undefined) return undefined;
    if (was !== now) ops.push(`<replace sel="${sel}/@${name}">${now}</replace>`);
  }
  return ops;
}

/**
 * The operations that turn a SegmentTemplate's timeline `a` into `b`: the oldest entries dropped
 * (at most a few per update), the first and last rewritten, new ones appended; the whole timeline
 * where that fails.
 */
function timelineOps(template: string, a: readonly string[], b: readonly string[]): string[] {
  if (sameList(a, b)) return [];
  const sel = `${template}/SegmentTimeline`;
  for (let dropped = 0; dropped <= Math.min(3, a.length - 1); dropped++) {
    const kept = a.length - dropped;
    if (b.length < kept || !sameList(a.slice(dropped + 1, a.length - 1), b.slice(1, kept - 1))) continue;
    const ops: string[] = [];
    for (let k = 0; k < dropped; k++) ops.push(`<remove sel="${sel}/S[1]"/>`);
    if (a[dropped] !== b[0]) ops.push(`<replace sel="${sel}/S[1]">${b[0] ?? ''}</replace>`);
    if (kept > 1 && a[a.length - 1] !== b[kept - 1]) ops.push(`<replace sel="${sel}/S[${kept}]">${b[kept - 1] ?? ''}</replace>`);
    if (b.length > kept) ops.push(`<add sel="${sel}">${b.slice(kept).join('')}</add>`);
    return ops;
  }
  return [`<replace sel="${sel}"><SegmentTimeline>${b.join('')}</SegmentTimeline></replace>`];
}

/**
 * The patch from MPD `older` to `newer` (both live, from renderMpd with an id), or undefined when
 * the change is not one a patch expresses here (another event, the event ended, attributes that
 * come or go): the player then reloads the MPD.
 */
export function renderMpdPatch(older: string | ParsedMpd | undefined, newer: string | ParsedMpd | undefined): string | undefined {
  const a = typeof older === 'string' ? parseMpd(older) : older;
  const b = typeof newer === 'string' ? parseMpd(newer) : newer;
  const id = b?.attrs.get('id');
  if (!a || !b || id === undefined || a.attrs.get('id') !== id || b.attrs.get('type') !== 'dynamic' || a.attrs.get('type') !== 'dynamic'
    || !b.patchLocation || !a.patchLocation) return undefined;
  const root = attributeOps('/MPD', a.attrs, b.attrs);
  if (!root) return undefined;
  const ops = [...root];
  ops.push(`<replace sel="/MPD/PatchLocation[1]">${b.patchLocation}</replace>`);
  const before = new Map(a.periods.map((p) => [p.id, p]));
  const after = new Set(b.periods.map((p) => p.id));
  for (const p of a.periods) if (!after.has(p.id)) ops.push(`<remove sel="/MPD/Period[@id='${p.id}']"/>`);
  for (const p of b.periods) {
    const old = before.get(p.id);
    if (!old) {
      ops.push(`<add sel="/MPD">${p.text}</add>`);
      continue;
    }
    const templates = p.timelines.map((t, k) => {
      const was = old.timelines[k];
      const attrs = was && was.sel === t.sel ? attributeOps(t.sel, was.attrs, t.attrs) : undefined;
      return attrs && was ? [...attrs, ...timelineOps(t.sel, was.s, t.s)] : undefined;
    });
    if (old.skeleton !== p.skeleton || old.timelines.length !== p.timelines.length || templates.some((t) => t === undefined)) {
      ops.push(`<replace sel="/MPD/Period[@id='${p.id}']">${p.text}</replace>`);
    } else {
      for (const t of templates) ops.push(...(t ?? []));
    }
  }
  return '<?xml version="1.0" encoding="utf-8"?>\n'
    + `<Patch xmlns="urn:mpeg:dash:schema:mpd-patch:2020" mpdId="${id}" originalPublishTime="${a.attrs.get('publishTime') ?? ''}"`
    + ` publishTime="${b.attrs.get('publishTime') ?? ''}">\n${ops.join('\n')}\n</Patch>\n`;
}
