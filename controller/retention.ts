// Recordings and their retention as the controller keeps them: what each stream takes on the shared
// storage (its transcoder's figure), the versions transcoders find there, the ended events and
// versions whose retention ran out (handed to one deleter), streams deleted with their media, and
// the removals transcoders report done. The store holds the state (sizes, end times, deletions,
// purges asked for); what this class keeps is a cache any controller could rebuild from the store,
// and the requests waiting to say what a purge removed.
import { DvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Heartbeat, HeartbeatReply, PurgeResult, RecordingRef } from '../common/protocol.js';
import { expiredRecordings, recordingsOf, type Recording } from './recordings.js';
import { SharedRead } from './shared-read.js';
import type { StateStore, StreamRow } from './store.js';

/** A stream's size is written at most this often: a figure, not worth a write per heartbeat. */
const SIZE_WRITE_MS = 10_000;
/** The deleter (the first transcoder that reaches the storage) is looked up again this often. */
const DELETER_LOOKUP_MS = 1000;
/** The expired recordings are looked up again this often, not at each heartbeat. */
const EXPIRED_LOOKUP_MS = 5_000;

/** What a transcoder's heartbeat tells of the storage. */
export type StorageReport = Pick<Heartbeat, 'streams' | 'deletedRecordings' | 'versions' | 'purgedStreams'>;

export class Retention {
  private readonly sizeWrittenAt = new Map<string, number>();
  private expired: RecordingRef[] = [];
  private expiredAt = -Infinity;
  private readonly waiting = new Map<string, Array<(r: PurgeResult) => void>>();
  /** The deleter, looked up at most once a second (every transcoder's heartbeat asks). */
  private readonly deleterOf = new SharedRead<string | undefined>(DELETER_LOOKUP_MS);

  private deleter(): Promise<string | undefined> {
    return this.deleterOf.get(0, this.now(), () => this.store.firstWithStorage('transcoder'));
  }

  constructor(private readonly store: StateStore, private readonly log: Logger, private readonly now: () => number) {}

  /** A transcoder's report: what the streams it writes take, the versions it found, what it removed as asked. */
  async noteReport(nodeId: string, r: StorageReport): Promise<void> {
    await this.noteSizes(nodeId, r.streams ?? []);
    for (const v of r.versions ?? []) {
      await this.store.upsertVersion({ app: v.app, stream: v.stream, version: v.version, endedAt: v.endedAt, storedBytes: v.bytes });
    }
    for (const d of r.deletedRecordings ?? []) await this.noteDeleted(nodeId, d);
    for (const p of r.purgedStreams ?? []) {
      if (!await this.store.finishPurge(p.app, p.stream)) continue;
      this.log.info({ stream: `${p.app}/${p.stream}`, node: nodeId, removed: p.removed, bytes: p.bytes }, 'stream deleted with its media');
      const k = `${p.app}/${p.stream}`;
      for (const resolve of this.waiting.get(k) ?? []) resolve(p);
      this.waiting.delete(k);
    }
  }

  private async noteSizes(nodeId: string, streams: NonNullable<Heartbeat['streams']>): Promise<void> {
    const now = this.now();
    for (const f of streams) {
      const k = `${f.app}/${f.stream}`;
      if (typeof f.storedBytes !== 'number' || now - (this.sizeWrittenAt.get(k) ?? 0) < SIZE_WRITE_MS) continue;
      if ((await this.store.stream(f.app, f.stream))?.transcoder !== nodeId) continue;
      await this.store.setStoredBytes(f.app, f.stream, f.storedBytes);
      this.sizeWrittenAt.set(k, now);
    }
  }

  private async noteDeleted(nodeId: string, d: RecordingRef): Promise<void> {
    const done = d.version !== undefined ? await this.store.markVersionDeleted(d.app, d.stream, d.version, this.now())
      : await this.store.markMediaDeleted(d.app, d.stream, d.endedAt, this.now());
    if (!done) return;
    this.log.info({ stream: `${d.app}/${d.stream}`, version: d.version, node: nodeId }, 'recording deleted');
    this.expired = this.expired.filter((e) => e.app !== d.app || e.stream !== d.stream || e.version !== d.version);
  }

  /**
   * What `nodeId` is asked to remove: expired recordings and streams deleted with their media go to
   * one transcoder in service whose storage is available (the first by id), so that one deleter walks
   * the storage and none race.
   */
  async deletionsFor(nodeId: string): Promise<Pick<HeartbeatReply, 'deleteRecordings' | 'purgeStreams'>> {
    if (await this.deleter() !== nodeId) return {};
    const now = this.now();
    if (now - this.expiredAt >= EXPIRED_LOOKUP_MS) {
      this.expiredAt = now;
      this.expired = expiredRecordings(await this.store.endedWithMedia(), now, 100, await this.store.versionsWithMedia(),
        await this.retentionOf());
    }
    const purges = (await this.store.purgesPending()).map((s) => ({ app: s.app, stream: s.stream }));
    return { ...(this.expired.length > 0 ? { deleteRecordings: this.expired } : {}),
      ...(purges.length > 0 ? { purgeStreams: purges } : {}) };
  }

  async list(): Promise<Recording[]> {
    return recordingsOf(await this.store.endedWithMedia(), await this.store.versionsWithMedia(), await this.retentionOf());
  }

  /** A version's retention: its stream's (a stream deleted without its media keeps its versions). */
  private async retentionOf(): Promise<(app: string, stream: string) => number | undefined> {
    const hours = new Map((await this.store.streams()).map((s) => [`${s.app}/${s.stream}`, s.settings.retentionHours ?? 0]));
    return (app, stream) => hours.get(`${app}/${stream}`);
  }

  /**
   * Deletes `s` with its media: refused while it runs; a transcoder removes its directory and its
   * versions', and the stream is gone once it says so. Resolves with what was removed, or undefined
   * when it is not done within `waitMs` (it goes on: the answer says so).
   */
  async purge(s: StreamRow, waitMs: number): Promise<PurgeResult | undefined> {
    if (!await this.store.requestPurge(s.app, s.stream, this.now())) {
      throw new DvrError('DVR_ERR_CONFLICT', `${s.app}/${s.stream} is ${s.status}: its media cannot be deleted while it runs; `
        + 'stop its publisher and wait for the event to end (its reconnect grace)');
    }
    this.log.info({ stream: `${s.app}/${s.stream}` }, 'stream to be deleted with its media');
    const k = `${s.app}/${s.stream}`;
    return new Promise((resolve) => {
      const done = (r: PurgeResult): void => { clearTimeout(timer); resolve(r); };
      const timer = setTimeout(() => {
        this.waiting.set(k, (this.waiting.get(k) ?? []).filter((f) => f !== done));
        resolve(undefined);
      }, waitMs);
      this.waiting.set(k, [...(this.waiting.get(k) ?? []), done]);
    });
  }

  /** Forgets the streams that are gone. */
  keepOnly(streams: ReadonlySet<string>): void {
    for (const k of this.sizeWrittenAt.keys()) if (!streams.has(k)) this.sizeWrittenAt.delete(k);
  }
}
