// Copy-mode ingest without a puller, on a node that is origin and transcoder at once: the
// origin's nginx-rtmp writes the publisher's stream as TS fragments (nginx OriginSegmenter) and
// lists each in its own index.m3u8 once it is closed. The feed watches that one playlist file
// (never the directory: nginx-rtmp writes a fragment frame by frame, which would wake a directory
// watch ~70 times a second), moves each newly listed fragment into the rendition's incoming/ as
// <session>-<n>.ts and offers it to the packager. Both directories are local disk (the config
// refuses a spool on the network mount), so the feed's own file operations are synchronous: a
// read of a small playlist and a rename, without a round trip through libuv's thread pool.
// nginx-rtmp replaces the playlist (a rename over it), so a watch on the file follows the old inode:
// the feed arms a new one on the path, synchronously, before it reads. (chokidar re-arms only after
// a stat in the thread pool; with 128 streams it missed about one replacement in a hundred, each
// found seconds later by the safety re-read.) Until the playlist exists, chokidar watches for it.
// nginx-rtmp's DISCONTINUITY (a new publish) starts a new session; silence beyond the reconnect grace ends the event, as with an encoder.
import { EventEmitter } from 'node:events';
import { promises as fs, readdirSync, readFileSync, renameSync, watch as watchFile, type FSWatcher as FileWatcher } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { errnoCode } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { moveInto } from '../../common/files.js';
import { newSession } from './args.js';
import type { MediaSource, MediaSourceEvents } from './source.js';

/** One fragment as nginx-rtmp lists it. */
export interface RtmpFragment {
  n: number;
  durationSec: number;
  /** nginx-rtmp put EXT-X-DISCONTINUITY before it: the first fragment of a publish. */
  discontinuity: boolean;
}

const FRAGMENT_RE = /^(\d{1,9})\.ts$/;

/** nginx-rtmp's playlist (hls_nested, sequential names): its fragments in order. Pure. */
export function parseRtmpPlaylist(text: string): RtmpFragment[] {
  const out: RtmpFragment[] = [];
  let duration: number | undefined;
  let disc = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '#EXT-X-DISCONTINUITY') disc = true;
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line !== '' && !line.startsWith('#')) {
      const m = FRAGMENT_RE.exec(line);
      if (m && duration !== undefined && Number.isFinite(duration)) out.push({ n: Number(m[1]), durationSec: duration,
        discontinuity: disc });
      duration = undefined;
      disc = false;
    }
  }
  return out;
}

export interface OriginFeedOptions {
  /** nginx-rtmp's directory of the stream: <segmenter dir>/<app>/<name>. */
  dir: string;
  /** The rendition's incoming/ in the spool (same file system as `dir`). */
  incomingDir: string;
  fragmentSeconds: number;
  reconnectGraceMs: number;
  /** The session the packager continues, if any (an agent restarted in the middle of a publish). */
  currentSession: () => string | undefined;
  /** Lists a file moved into incoming/; called in fragment order, listed in that order. */
  offer: (file: string) => Promise<void>;
  log: Logger;
}

const PLAYLIST = 'index.m3u8';

export class OriginFeed extends EventEmitter<MediaSourceEvents> implements MediaSource {
  private watcher: FSWatcher | FileWatcher | undefined;
  private watching: 'playlist' | 'directory' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastTaken: number | undefined;
  private session: string | undefined;
  private lastSessionMs = 0;
  private lastSegmentAt = 0;
  private lastReadAt = 0;
  private graceReported = false;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private stopped = false;
  /** Watch changes run one after another, so that none outlives stop() and no two overlap. */
  private watchChain: Promise<void> = Promise.resolve();
  private watchPending = false;
  private missingReported = false;
  restarts = 0;

  constructor(private readonly o: OriginFeedOptions) {
    super();
  }

  private get playlist(): string { return path.join(this.o.dir, PLAYLIST); }

  async start(): Promise<void> {
    await fs.mkdir(this.o.incomingDir, { recursive: true });
    await this.rewatch();
    // Grace, and a re-read should a replacement of the playlist slip between two watches.
    this.timer = setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  noteSegment(): void {
    this.lastSegmentAt = Date.now();
    this.graceReported = false;
  }

  /** Takes what nginx-rtmp has finished, then stops watching. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    await this.watchChain;
    await this.closeWatcher();
    await this.read();
  }

  private rewatch(): Promise<void> {
    this.watchPending = true;
    this.watchChain = this.watchChain
      .then(() => this.watchForPlaylist())
      .catch((err: unknown) => this.o.log.error({ err: String(err) }, 'cannot watch the origin fragments'))
      .finally(() => { this.watchPending = false; });
    return this.watchChain;
  }

  /** The playlist itself once it exists; until then the stream's directory (or the app's, before it). */
  private async watchForPlaylist(): Promise<void> {
    await this.closeWatcher();
    if (this.stopped) return;
    if (this.armPlaylistWatch()) {
      this.watching = 'playlist';
      await this.read();
      return;
    }
    const appDir = path.dirname(this.o.dir);
    const appDirExists = await fs.stat(appDir).then((st) => st.isDirectory(), () => false);
    if (this.stopped) return;
    if (!appDirExists) {
      // Tried again every second (check()); said once.
      if (!this.missingReported) {
        this.missingReported = true;
        this.o.log.error({ dir: appDir },
          `origin fragments directory ${appDir} does not exist: is this node's origin configured with a segmenter (nginx hls_path)?`);
      }
      return;
    }
    this.missingReported = false;
    const w = watch(appDir, {
      depth: 1, ignoreInitial: false,
      ignored: (p: string) => p !== appDir && p !== this.o.dir && p !== this.playlist,
    });
    w.on('add', (p: string) => { if (p === this.playlist) void this.rewatch(); });
    w.on('error', (err) => this.o.log.warn({ err: String(err) }, 'watching the origin directory failed'));
    this.watcher = w;
    this.watching = 'directory';
    await new Promise<void>((resolve) => w.once('ready', () => resolve()));
  }

  /** A watch on the playlist's current inode; false when there is no playlist (any more). */
  private armPlaylistWatch(): boolean {
    let w: FileWatcher;
    try {
      w = watchFile(this.playlist, () => this.playlistChanged(w));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return false;
      throw err;
    }
    w.on('error', (err) => this.o.log.warn({ err: String(err) }, 'watching the origin playlist failed'));
    this.watcher = w;
    return true;
  }

  private playlistChanged(w: FileWatcher): void {
    if (this.watcher !== w || this.stopped) return;
    w.close();
    this.watcher = undefined;
    if (!this.armPlaylistWatch()) {
      // nginx-rtmp's cleanup after a long silence: its next publish numbers from 0 again.
      this.watching = undefined;
      this.lastTaken = undefined;
      void this.rewatch();
      return;
    }
    void this.read();
  }

  private async closeWatcher(): Promise<void> {
    const w = this.watcher;
    this.watcher = undefined;
    this.watching = undefined;
    await w?.close();
  }

  private check(): void {
    const now = Date.now();
    if (!this.graceReported && this.lastSegmentAt > 0 && now - this.lastSegmentAt > this.o.reconnectGraceMs) {
      this.graceReported = true;
      this.o.log.warn({ graceMs: this.o.reconnectGraceMs }, 'no media within the reconnect grace: the event ends');
      this.emit('graceExpired');
    }
    if (this.watching === 'playlist' && now - this.lastReadAt > 2 * this.o.fragmentSeconds * 1000) void this.read();
    if (this.watching === undefined && !this.watchPending && !this.stopped) void this.rewatch();
  }

  /** One read at a time; a change during a read makes one more. */
  private read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        this.lastReadAt = Date.now();
        try {
          await this.takeListed();
        } catch (err) {
          this.o.log.error({ err: String(err), dir: this.o.dir }, 'cannot take fragments from the origin');
        }
      } while (this.readAgain && !this.stopped);
    })().finally(() => { this.reading = undefined; });
    return this.reading;
  }

  private async takeListed(): Promise<void> {
    let text: string;
    try {
      text = readFileSync(this.playlist, 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    let fragments = parseRtmpPlaylist(text);
    const newest = fragments[fragments.length - 1]?.n;
    // Numbers went back: nginx-rtmp lost its playlist (cleanup, restart) and began again at 0.
    if (newest !== undefined && this.lastTaken !== undefined && newest < this.lastTaken) this.lastTaken = undefined;
    if (this.lastTaken === undefined) fragments = await this.withOlder(fragments);
    for (const f of fragments) {
      if (this.lastTaken !== undefined && f.n <= this.lastTaken) continue;
      await this.take(f);
    }
  }

  /**
   * First read (agent start): finished fragments that already left nginx-rtmp's playlist are
   * still in the directory when the agent was away briefly; they come first.
   */
  private async withOlder(listed: RtmpFragment[]): Promise<RtmpFragment[]> {
    const first = listed[0]?.n;
    if (first === undefined) return listed;
    let names: string[];
    try {
      names = readdirSync(this.o.dir);
    } catch {
      names = [];
    }
    const older = names
      .flatMap((f) => { const m = FRAGMENT_RE.exec(f); return m ? [Number(m[1])] : []; })
      .filter((n) => n < first).sort((a, b) => a - b);
    return [...older.map((n) => ({ n, durationSec: 0, discontinuity: false })), ...listed];
  }

  private async take(f: RtmpFragment): Promise<void> {
    // A new publish begins a new session, but only once one of its fragments is really taken: after
    // a restart the first fragments listed may be gone already (taken before), and the ones after
    // them continue the session the packager kept.
    let session = this.session;
    let freshMs: number | undefined;
    if (f.discontinuity || session === undefined) {
      const continued = f.discontinuity ? undefined : this.o.currentSession();
      if (continued) {
        session = continued;
      } else {
        freshMs = Math.max(Date.now(), this.lastSessionMs + 1); // names stay unique even within one ms
        session = newSession(freshMs);
      }
    }
    const file = `${session}-${f.n}.ts`;
    const from = path.join(this.o.dir, `${f.n}.ts`);
    const to = path.join(this.o.incomingDir, file);
    try {
      renameSync(from, to);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT') {
        // Taken before a restart, or removed by nginx-rtmp's cleanup: the packager sees the gap.
        this.lastTaken = f.n;
        return;
      }
      if (code !== 'EXDEV') throw err;
      await moveInto(from, to); // the segmenter directory is not on the spool's file system: copied
    }
    if (freshMs !== undefined) {
      if (this.session !== undefined) this.restarts++;
      this.lastSessionMs = freshMs;
    }
    this.session = session;
    this.lastTaken = f.n;
    // Not awaited: the fragment is safe in the spool now, and the packager's queue keeps the order
    // even while the shared storage hangs (nginx-rtmp's cleanup would not wait for it).
    this.o.offer(file).catch((err: unknown) => this.o.log.error({ err: String(err), file }, 'offering a fragment failed'));
  }
}
