// The DVR player page every edge serves: /player/?stream=<app>/<stream> plays that stream's master
// playlist from this edge; /player/?src=<path> plays another playlist on this edge (a signed URL's
// path, a time-shift URL). hls.js (vendored from npm, served by the edge) does the playing; the page
// adds the DVR controls: a scrub bar over the whole window labelled in wall-clock time (from the
// playlist's PROGRAM-DATE-TIME), pause, +-10 s, start over, go live, and the wall-clock time of the
// frame on screen. A paused or rewound viewer stays where they are until they ask for live.
// Where the stream's window is longer than its live playlist (the playlist cap; the master playlist
// says so in its session data), the scrub bar spans the whole window and a seek before the live
// playlist plays a finished time-shift range (index-<from>-<duration>.m3u8) from this edge, range
// after range, until the viewer is back within the live playlist or asks for live.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const scrub = $('scrub');
  const NAME = /^[a-z0-9_-]{1,64}$/;
  /** Seconds from the live edge within which the player counts as live. */
  const LIVE_SLACK_S = 8;

  function fail(message) {
    const box = $('error');
    box.textContent = message;
    box.hidden = false;
  }

  /** The playlist to play, from the page's query; a clear error for anything else. */
  function source(params) {
    const src = params.get('src');
    if (src !== null) {
      // A path on this edge only: no scheme, no host, no "//".
      if (!/^\/(?!\/)[A-Za-z0-9_./~%-]*\.m3u8(\?[A-Za-z0-9_.~%=&:+-]*)?$/.test(src) || src.includes('/../')) {
        throw new Error(`?src=${src}: a path on this server ending in .m3u8 (e.g. /live/demo/master.m3u8)`);
      }
      return { url: src, title: src };
    }
    const stream = params.get('stream') ?? '';
    const parts = stream.split('/');
    if (parts.length !== 2 || !NAME.test(parts[0]) || !NAME.test(parts[1])) {
      throw new Error(`?stream=${stream}: expected <app>/<stream>, e.g. /player/?stream=live/demo`);
    }
    return { url: `/${parts[0]}/${parts[1]}/master.m3u8`, title: stream };
  }

  const pad = (n) => String(n).padStart(2, '0');
  function clockText(ms) {
    if (!Number.isFinite(ms)) return '--:--:--';
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }

  const WINDOW_DATA = 'org.dvr-appliance.window';
  const EVENT_START_DATA = 'org.dvr-appliance.event-start';
  /** A seek lands this far inside the ends of what it may reach (ms): never on a segment's very edge. */
  const EDGE_MARGIN_MS = 2000;
  /** Thumbnails on the scrub bar: one per this many seconds, asked for once the pointer rests this long (ms). */
  const THUMB_STEP_S = 2;
  const THUMB_DELAY_MS = 150;
  /** Longest range asked for, seconds (the edge's time-shift service takes up to a day). */
  const MAX_RANGE_S = 3600;
  /** Shortest range asked for, seconds: a range plays at least this long before the next. */
  const MIN_RANGE_S = 10;

  let hls;
  /** Wall-clock ms at media time 0 of the current source, learnt from the playlist's dates; undefined until known. */
  let epochMs;
  let dragging = false;
  /** The stream's live master playlist and its path's /<app>/<stream>, when the source is one. */
  let live;
  /** The DVR window in seconds and the event's start, when the window is longer than the live playlist. */
  let dvr;
  /** Playing a time-shift range, not the live playlist: { endMs } of the range asked for. */
  let past;
  /** How much the live playlist lists (ms), as last seen; its start follows the live edge. */
  let liveLengthMs;
  /** How far the live edge is behind the wall clock, as last seen. */
  let liveLagMs = 10_000;
  /** Where to go once the new source's playlist is known (wall-clock ms), then its media time once started. */
  let pendingMs;
  let pendingTime;
  /** Seconds of back/forward steps asked for while a source was still loading towards its place. */
  let queuedS = 0;
  /** The back/forward step (wired once the page's controls are). */
  let stepBy = () => undefined;
  let previewTimer;

  function windowRange() {
    const r = video.seekable;
    if (r.length === 0) return undefined;
    return { start: r.start(0), end: r.end(r.length - 1) };
  }

  /** Where "live" is: hls.js's live sync point, else a little behind the end of the window. */
  function livePosition() {
    const w = windowRange();
    if (!w || past) return undefined;
    const sync = hls && Number.isFinite(hls.liveSyncPosition) ? hls.liveSyncPosition : undefined;
    return Math.min(w.end, sync ?? w.end - 6);
  }

  function learnEpoch() {
    const date = hls ? hls.playingDate : (typeof video.getStartDate === 'function' ? video.getStartDate() : undefined);
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) return;
    const ms = hls ? date.getTime() - video.currentTime * 1000 : date.getTime();
    if (ms > 0) epochMs = ms;
  }

  /** The wall-clock ms of media time `t` in the current source (its dates known). */
  const wallMs = (t) => epochMs + t * 1000;

  /** The live edge in wall-clock ms: seen in the live playlist, or estimated while playing a range. */
  function liveEdgeMs() {
    const w = windowRange();
    if (!past && w && epochMs !== undefined) return wallMs(w.end);
    return Date.now() - liveLagMs;
  }

  /** Where the live playlist starts, in wall-clock ms: seen, or estimated while playing a range. */
  function liveStartMs() {
    const w = windowRange();
    if (!past && w && epochMs !== undefined) return wallMs(w.start);
    return liveLengthMs !== undefined ? liveEdgeMs() - liveLengthMs : undefined;
  }

  /** The oldest wall-clock ms the viewer may reach: the whole window where it is longer than the playlist. */
  function oldestMs() {
    const w = windowRange();
    if (dvr) return Math.max(dvr.eventStartMs, liveEdgeMs() - dvr.windowS * 1000);
    return w && epochMs !== undefined ? wallMs(w.start) : undefined;
  }

  function seekTo(t) {
    const w = windowRange();
    if (!w) return;
    video.currentTime = Math.max(w.start, Math.min(t, w.end - 0.5));
    if (video.paused) void video.play().catch(() => undefined);
  }

  /** Plays the frame of wall-clock `ms`: in the current source, in the live playlist, or from a time-shift range. */
  function seekToWall(ms) {
    const w = windowRange();
    if (!w || epochMs === undefined) return;
    const t = (ms - epochMs) / 1000;
    if (!dvr || !live) { seekTo(t); return; }
    const target = Math.max(oldestMs() + EDGE_MARGIN_MS, Math.min(ms, liveEdgeMs() - EDGE_MARGIN_MS));
    const here = (target - epochMs) / 1000;
    if (here >= w.start && here <= w.end - 0.5) { seekTo(here); return; }
    const liveStart = liveStartMs();
    if (liveStart !== undefined && target >= liveStart + EDGE_MARGIN_MS) { load(live.url, target); return; }
    // A finished range from there, at most as long as the live playlist, ending before the live edge.
    const from = Math.floor(target / 1000);
    const span = liveLengthMs !== undefined ? liveLengthMs / 1000 : MAX_RANGE_S;
    const toLive = Math.floor((liveEdgeMs() - from * 1000 - EDGE_MARGIN_MS) / 1000);
    const duration = Math.max(MIN_RANGE_S, Math.min(Math.round(span), MAX_RANGE_S, toLive));
    load(`${live.base}/index-${from}-${duration}.m3u8`, target, { endMs: (from + duration) * 1000 });
  }

  function goLive() {
    if (past) { load(live.url); return; }
    const l = livePosition();
    if (l !== undefined) seekTo(l);
  }

  function render() {
    learnEpoch();
    const w = windowRange();
    if (w && epochMs !== undefined && !past) {
      liveLengthMs = (w.end - w.start) * 1000;
      liveLagMs = Math.max(0, Date.now() - wallMs(w.end));
    }
    if (w) {
      // Wall-clock seconds once the dates are known; media seconds before.
      const known = epochMs !== undefined;
      const lo = known ? oldestMs() / 1000 : w.start;
      const hi = known ? liveEdgeMs() / 1000 : w.end;
      scrub.min = String(lo);
      scrub.max = String(hi);
      if (!dragging) scrub.value = String(known ? epochMs / 1000 + video.currentTime : video.currentTime);
      $('window-start').textContent = known ? clockText(lo * 1000) : '--:--:--';
      $('window-end').textContent = known ? clockText(hi * 1000) : '--:--:--';
    }
    const shownMs = epochMs === undefined ? undefined
      : dragging ? Number(scrub.value) * 1000 : wallMs(video.currentTime);
    const clock = $('clock');
    if (shownMs !== undefined) {
      const ms = Math.round(shownMs);
      clock.textContent = clockText(ms);
      clock.dataset.ms = String(ms);
    }
    const liveAt = livePosition();
    const behind = past ? (epochMs !== undefined ? (liveEdgeMs() - epochMs) / 1000 - video.currentTime : undefined)
      : liveAt !== undefined ? Math.max(0, liveAt - video.currentTime) : undefined;
    const badge = $('behind');
    badge.classList.toggle('live', behind !== undefined && behind < LIVE_SLACK_S);
    badge.textContent = behind === undefined ? '' : behind < LIVE_SLACK_S ? 'LIVE' : `${Math.round(behind)} s behind live`;
    badge.dataset.behind = behind === undefined ? '' : behind.toFixed(1);
    badge.dataset.source = past ? 'range' : 'live';
    $('play').textContent = video.paused ? 'Play' : 'Pause';
  }

  /**
   * A thumbnail of the moment under the pointer on the scrub bar, from this edge's time-shift service
   * (thumb-<Unix seconds>.jpg: the first picture of the segment there), for a stream's master playlist.
   */
  function preview(event) {
    const box = $('preview');
    const lo = Number(scrub.min);
    const hi = Number(scrub.max);
    if (!live || epochMs === undefined || !(hi > lo)) { box.hidden = true; return; }
    const rect = scrub.getBoundingClientRect();
    const frac = Math.max(0, Math.min(1, (event.clientX - rect.left) / rect.width));
    // Whole seconds, rounded down to THUMB_STEP_S (neighbours share a cached picture), never before the window.
    const at = Math.max(Math.ceil(lo), Math.floor((lo + frac * (hi - lo)) / THUMB_STEP_S) * THUMB_STEP_S);
    $('preview-time').textContent = clockText(at * 1000);
    box.style.left = `${event.clientX - scrub.parentElement.getBoundingClientRect().left}px`;
    box.hidden = false;
    // Asked for once the pointer rests: a swipe along the bar does not ask for every picture on the way.
    clearTimeout(previewTimer);
    previewTimer = setTimeout(() => {
      const img = $('preview-img');
      const src = `${live.base}/thumb-${at}.jpg`;
      if ((img.getAttribute('src') ?? '').split('?')[0] !== src) { img.dataset.retried = ''; img.setAttribute('src', src); }
    }, THUMB_DELAY_MS);
  }

  /** A thumbnail the edge could not make at once (busy): asked for once more, a second later. */
  function previewFailed() {
    const img = $('preview-img');
    const src = img.getAttribute('src');
    const base = src ? src.split('?')[0] : '';
    if (!src || img.dataset.retried === base) return;
    img.dataset.retried = base;
    setTimeout(() => { if (img.getAttribute('src') === src) img.setAttribute('src', `${base}?again`); }, 1000);
  }

  /** The scrub bar's value as a wall-clock ms, or a media time while the dates are unknown. */
  function scrubTo(value) {
    if (epochMs === undefined) seekTo(value);
    else seekToWall(value * 1000);
  }

  function wire() {
    $('play').addEventListener('click', () => { if (video.paused) void video.play().catch(() => undefined); else video.pause(); });
    const step = (s) => {
      // While a new source loads towards its place, steps wait and add up: taken from the place it was
      // going to, not from where the old source happened to be.
      if (pendingMs !== undefined || pendingTime !== undefined) { queuedS += s; return; }
      if (epochMs === undefined) seekTo(video.currentTime + s);
      else seekToWall(wallMs(video.currentTime + s));
    };
    stepBy = step;
    $('back').addEventListener('click', () => step(-10));
    $('forward').addEventListener('click', () => step(10));
    $('start-over').addEventListener('click', () => {
      const oldest = oldestMs();
      if (oldest !== undefined) seekToWall(oldest + 100);
    });
    $('live').addEventListener('click', goLive);
    scrub.addEventListener('input', () => { dragging = true; render(); });
    scrub.addEventListener('mousemove', preview);
    scrub.addEventListener('mouseleave', () => { clearTimeout(previewTimer); $('preview').hidden = true; });
    $('preview-img').addEventListener('error', previewFailed);
    scrub.addEventListener('change', () => { dragging = false; scrubTo(Number(scrub.value)); });
    for (const e of ['timeupdate', 'pause', 'play', 'playing', 'seeking', 'seeked', 'waiting', 'loadedmetadata', 'durationchange']) {
      video.addEventListener(e, render);
    }
    // The end of a range: on from there (the next range, or the live playlist). Its last segment
    // may end after the range asked for: on from the end of what it played.
    video.addEventListener('ended', () => {
      const w = windowRange();
      if (past && w && epochMs !== undefined) seekToWall(Math.max(past.endMs, wallMs(w.end)) + 100);
    });
    setInterval(render, 500);
  }

  /** Plays `url` (the live master or a time-shift range) with a fresh hls.js; at wall-clock `atMs` when given. */
  function load(url, atMs, range) {
    if (hls) hls.destroy();
    epochMs = undefined;
    past = range;
    pendingMs = atMs;
    pendingTime = undefined;
    queuedS = 0;
    // The whole DVR window stays seekable; a viewer behind live is never pulled forward.
    // (hls.js never catches up with live on its own unless liveMaxLatencyDuration is set.)
    // A low-latency stream (its playlist has EXT-X-PART-INF) plays at its PART-HOLD-BACK from live.
    hls = new window.Hls({ liveDurationInfinity: true, backBufferLength: 120, lowLatencyMode: true });
    hls.on(window.Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (past) {
        // A range that cannot play (no longer stored, refused): back to live, with the reason shown.
        const code = data.response?.code ? `, HTTP ${data.response.code}` : '';
        fail(`cannot play the time-shift range (${data.details}${code}); back to live`);
        load(live.url);
      } else if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
        fail(`network error (${data.details}${data.response?.code ? `, HTTP ${data.response.code}` : ''}); retrying`);
        setTimeout(() => hls.startLoad(), 2000);
      } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
        hls.recoverMediaError();
      } else {
        fail(`cannot play ${url}: ${data.details}`);
      }
    });
    hls.on(window.Hls.Events.MANIFEST_LOADED, (_e, data) => {
      const windowS = Number(data.sessionData?.[WINDOW_DATA]?.VALUE);
      const eventStartMs = Date.parse(data.sessionData?.[EVENT_START_DATA]?.VALUE ?? '');
      if (live && windowS > 0 && Number.isFinite(eventStartMs)) dvr = { windowS, eventStartMs };
    });
    hls.on(window.Hls.Events.LEVEL_LOADED, (_e, data) => {
      if (pendingMs === undefined) return;
      const first = data.details.fragments[0];
      if (!first || !first.programDateTime) return;
      pendingTime = Math.max(first.start, (pendingMs - (first.programDateTime - first.start * 1000)) / 1000);
      pendingMs = undefined;
    });
    // hls.js places a new source at its own start (a live one at live) once its first fragment is
    // buffered; the viewer's place is set after that.
    hls.on(window.Hls.Events.FRAG_BUFFERED, () => {
      if (pendingTime === undefined) return;
      const t = pendingTime;
      pendingTime = undefined;
      setTimeout(() => {
        video.currentTime = t;
        const queued = queuedS;
        queuedS = 0;
        if (queued !== 0) stepBy(queued);
      }, 0);
    });
    hls.on(window.Hls.Events.FRAG_LOADED, () => { $('error').hidden = true; });
    hls.loadSource(url);
    hls.attachMedia(video);
    // hls.js starts at the live edge; muted, so browsers let it play at once.
    video.addEventListener('loadedmetadata', () => { void video.play().catch(() => undefined); }, { once: true });
  }

  function start() {
    let src;
    try {
      src = source(new URLSearchParams(location.search));
    } catch (err) {
      fail(err.message);
      return;
    }
    $('title').textContent = src.title;
    document.title = `${src.title} - DVR player`;
    wire();
    // A stream's master playlist, signed or not: its ranges and thumbnails share the token's prefix.
    const stream = /^((?:\/s\/\d{1,12}\/[A-Za-z0-9_-]{22})?\/[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,64})\/master\.m3u8$/.exec(src.url);
    if (stream) live = { url: src.url, base: stream[1] };
    if (window.Hls && window.Hls.isSupported()) {
      load(src.url);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src.url; // Safari plays HLS itself
      video.addEventListener('loadedmetadata', () => { void video.play().catch(() => undefined); }, { once: true });
    } else {
      fail('this browser plays neither HLS nor Media Source Extensions');
    }
  }

  try {
    start();
  } catch (err) {
    fail(`the player could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
})();
