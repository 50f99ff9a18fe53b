// The DVR player page every edge serves: /player/?stream=<app>/<stream> plays that stream's master
// playlist from this edge; /player/?src=<path> plays another playlist on this edge (a signed URL's
// path, a time-shift URL). hls.js (vendored from npm, served by the edge) does the playing; the page
// adds the DVR controls: a scrub bar over the whole window labelled in wall-clock time (from the
// playlist's PROGRAM-DATE-TIME), pause, +-10 s, start over, go live, and the wall-clock time of the
// frame on screen. A paused or rewound viewer stays where they are until they ask for live.
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

  let hls;
  /** Wall-clock ms at media time 0, learnt from the playlist's dates; undefined until known. */
  let epochMs;
  let dragging = false;

  function windowRange() {
    const r = video.seekable;
    if (r.length === 0) return undefined;
    return { start: r.start(0), end: r.end(r.length - 1) };
  }

  /** Where "live" is: hls.js's live sync point, else a little behind the end of the window. */
  function livePosition() {
    const w = windowRange();
    if (!w) return undefined;
    const sync = hls && Number.isFinite(hls.liveSyncPosition) ? hls.liveSyncPosition : undefined;
    return Math.min(w.end, sync ?? w.end - 6);
  }

  function learnEpoch() {
    const date = hls ? hls.playingDate : (typeof video.getStartDate === 'function' ? video.getStartDate() : undefined);
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) return;
    const ms = hls ? date.getTime() - video.currentTime * 1000 : date.getTime();
    if (ms > 0) epochMs = ms;
  }

  function seekTo(t) {
    const w = windowRange();
    if (!w) return;
    video.currentTime = Math.max(w.start, Math.min(t, w.end - 0.5));
    if (video.paused) void video.play().catch(() => undefined);
  }

  function render() {
    learnEpoch();
    const w = windowRange();
    if (w) {
      scrub.min = String(w.start);
      scrub.max = String(w.end);
      if (!dragging) scrub.value = String(video.currentTime);
      $('window-start').textContent = epochMs !== undefined ? clockText(epochMs + w.start * 1000) : '--:--:--';
      $('window-end').textContent = epochMs !== undefined ? clockText(epochMs + w.end * 1000) : '--:--:--';
    }
    const shown = dragging ? Number(scrub.value) : video.currentTime;
    const clock = $('clock');
    if (epochMs !== undefined) {
      const ms = Math.round(epochMs + shown * 1000);
      clock.textContent = clockText(ms);
      clock.dataset.ms = String(ms);
    }
    const live = livePosition();
    const behind = live !== undefined ? Math.max(0, live - video.currentTime) : undefined;
    const badge = $('behind');
    badge.classList.toggle('live', behind !== undefined && behind < LIVE_SLACK_S);
    badge.textContent = behind === undefined ? '' : behind < LIVE_SLACK_S ? 'LIVE' : `${Math.round(behind)} s behind live`;
    badge.dataset.behind = behind === undefined ? '' : behind.toFixed(1);
    $('play').textContent = video.paused ? 'Play' : 'Pause';
  }

  function wire() {
    $('play').addEventListener('click', () => { if (video.paused) void video.play().catch(() => undefined); else video.pause(); });
    $('back').addEventListener('click', () => seekTo(video.currentTime - 10));
    $('forward').addEventListener('click', () => seekTo(video.currentTime + 10));
    $('start-over').addEventListener('click', () => { const w = windowRange(); if (w) seekTo(w.start + 0.1); });
    $('live').addEventListener('click', () => { const l = livePosition(); if (l !== undefined) seekTo(l); });
    scrub.addEventListener('input', () => { dragging = true; render(); });
    scrub.addEventListener('change', () => { dragging = false; seekTo(Number(scrub.value)); });
    for (const e of ['timeupdate', 'pause', 'play', 'playing', 'seeking', 'seeked', 'waiting', 'loadedmetadata', 'durationchange']) {
      video.addEventListener(e, render);
    }
    setInterval(render, 500);
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
    if (window.Hls && window.Hls.isSupported()) {
      // The whole DVR window stays seekable; a viewer behind live is never pulled forward.
      // (hls.js never catches up with live on its own unless liveMaxLatencyDuration is set.)
      hls = new window.Hls({ liveDurationInfinity: true, backBufferLength: 120 });
      hls.on(window.Hls.Events.ERROR, (_e, data) => {
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR) {
          fail(`network error (${data.details}${data.response?.code ? `, HTTP ${data.response.code}` : ''}); retrying`);
          setTimeout(() => hls.startLoad(), 2000);
        } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          fail(`cannot play ${src.url}: ${data.details}`);
        }
      });
      hls.on(window.Hls.Events.FRAG_LOADED, () => { $('error').hidden = true; });
      hls.loadSource(src.url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src.url; // Safari plays HLS itself
    } else {
      fail('this browser plays neither HLS nor Media Source Extensions');
      return;
    }
    // hls.js starts at the live edge; muted, so browsers let it play at once.
    video.addEventListener('loadedmetadata', () => { void video.play().catch(() => undefined); }, { once: true });
  }

  try {
    start();
  } catch (err) {
    fail(`the player could not start: ${err instanceof Error ? err.message : String(err)}`);
  }
})();
