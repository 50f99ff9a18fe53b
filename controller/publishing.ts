// Publishing: the origins' callback for each publisher (its stream key checked, a transcoder chosen
// for it), its end, the URL a publisher is given, and the jobs a transcoder is handed for the
// streams assigned to it. Assignments are the store's (one transaction each); nothing is kept here.
import { DvrError } from '../common/errors.js';
import { urlHost } from '../common/address.js';
import type { TranscodeJob } from '../common/job.js';
import type { Logger } from '../common/log.js';
import { sameSecret } from '../common/secrets.js';
import { leastLoaded, transcoderFor } from './allocation.js';
import { jobsFor } from './jobs.js';
import type { ControllerMetrics } from './metrics.js';
import { SharedRead } from './shared-read.js';
import type { NodeRow, StateStore, StreamRow } from './store.js';

export interface PublishingOptions {
  /** The port origins take RTMP on. */
  originRtmpPort: number;
  /** Seconds a job stays with its transcoder after the publisher left (the agent's reconnect grace). */
  endGraceSeconds: number;
  /** The name publishers use for the origins (DNS with every origin's address, or a load balancer). */
  publishHost?: string | undefined;
  /** A transcoder silent this long gets no publisher back (it may be dying; the sweep decides). */
  quietAfterMs: number;
  now: () => number;
}

/** What nginx-rtmp's on_publish and on_publish_done send (form fields). */
export interface PublishForm { app?: string | undefined; name?: string | undefined; key?: string | undefined; addr?: string | undefined }

export class Publishing {
  constructor(private readonly store: StateStore, private readonly log: Logger, private readonly metrics: ControllerMetrics,
    private readonly o: PublishingOptions) {}

  /** A node the controller still knows (not handed back). */
  private async present(id: string): Promise<NodeRow | undefined> {
    const n = await this.store.node(id);
    return n && n.state !== 'gone' ? n : undefined;
  }

  private rtmpBase(address: string): string {
    return `rtmp://${urlHost(address)}:${this.o.originRtmpPort}`;
  }

  /** Where publishers go: an origin in service. */
  private async originUrl(): Promise<string> {
    return this.rtmpBase(leastLoaded(await this.store.nodes({ role: 'origin' }), 'origin', new Map())?.node.address ?? '127.0.0.1');
  }

  /**
   * A publisher at an origin (`originNode`, when the origin names itself): its key is checked and
   * the stream assigned to a transcoder (the one it has, if it can go on). Returns that transcoder.
   */
  async authorize(form: PublishForm, originNode: string | undefined): Promise<string> {
    const s = await this.store.stream(form.app ?? '', form.name ?? '');
    if (!s || !form.key || !sameSecret(form.key, s.streamKey)) {
      this.log.warn({ app: form.app, stream: form.name, addr: form.addr }, 'publish refused: unknown stream or wrong key');
      this.metrics.publishRefused.inc();
      throw new DvrError('DVR_ERR_FORBIDDEN', 'unknown stream or wrong stream key');
    }
    if (s.purgeRequestedAt !== undefined) {
      this.log.warn({ stream: `${s.app}/${s.stream}` }, 'publish refused: the stream is being deleted with its media');
      throw new DvrError('DVR_ERR_FORBIDDEN', `${s.app}/${s.stream} is being deleted with its media`);
    }
    const origin = originNode !== undefined ? await this.present(originNode) : undefined;
    const timer = this.metrics.allocation.startTimer();
    // One allocation at a time across every controller: the stream and the loads are read under the
    // lock, so two publishes of one stream (through two controllers) find the same transcoder.
    const transcoder = await this.store.transaction(async (tx) => {
      await tx.lockAllocation();
      const now = await tx.stream(s.app, s.stream);
      if (!now) return undefined;
      const loads = await tx.loadOf('transcoder');
      const chosen = transcoderFor({ current: now.transcoder ? await tx.node(now.transcoder) : undefined, loads,
        used: new Map(loads.map((l) => [l.id, l.used])), origin, now: this.o.now(), quietAfterMs: this.o.quietAfterMs });
      if (!chosen) return undefined;
      await tx.setStreamStatus(s.app, s.stream, 'live', chosen);
      await tx.setStreamOrigin(s.app, s.stream, origin?.id);
      return chosen;
    });
    timer();
    if (!transcoder) {
      this.log.warn({ stream: `${s.app}/${s.stream}` }, 'publish refused: no transcoder has room');
      throw new DvrError('DVR_ERR_NO_CAPACITY', 'no transcoder has room for this stream; scale out the transcoder role');
    }
    this.log.info({ stream: `${s.app}/${s.stream}`, transcoder, origin: origin?.id }, 'publish accepted');
    return transcoder;
  }

  /** The publisher left: the stream is ending (its job stays with its transcoder for the reconnect grace). */
  async publishDone(form: PublishForm, originNode?: string): Promise<void> {
    // One statement: a publish accepted meanwhile (through another origin, another controller) stays live.
    await this.store.publishEnded(form.app ?? '', form.name ?? '', this.o.now(), originNode);
  }

  /**
   * The URL a publisher of `s` is given. With a publish host (a DNS name for every origin, or a load
   * balancer in front of them), a publisher that reconnects after its origin died lands on a live one.
   */
  async publishUrl(s: StreamRow): Promise<string> {
    const base = this.o.publishHost !== undefined ? `rtmp://${urlHost(this.o.publishHost)}:${this.o.originRtmpPort}`
      : await this.originUrl();
    return `${base}/${s.app}/${s.stream}?key=${s.streamKey}`;
  }

  /** The jobs of a transcoder: the streams assigned to it that run. */
  /** The running streams by transcoder, read again when the streams change (through any controller). */
  private readonly running = new SharedRead<Map<string, StreamRow[]>>();
  /** The origins, read at most once a second (every transcoder's reply names its sources). */
  private readonly origins = new SharedRead<NodeRow[]>(1000);

  private async runningOn(nodeId: string): Promise<StreamRow[]> {
    const byTranscoder = await this.running.get(this.store.streamsVersion, 0, async () => {
      const by = new Map<string, StreamRow[]>();
      for (const s of await this.store.runningStreams()) {
        if (s.transcoder === undefined) continue;
        const list = by.get(s.transcoder);
        if (list) list.push(s);
        else by.set(s.transcoder, [s]);
      }
      return by;
    });
    return byTranscoder.get(nodeId) ?? [];
  }

  private originNodes(): Promise<NodeRow[]> {
    return this.origins.get(0, this.o.now(), () => this.store.nodes({ role: 'origin' }));
  }

  async jobsFor(nodeId: string): Promise<TranscodeJob[]> {
    const streams = await this.runningOn(nodeId);
    if (streams.length === 0) return [];
    // Where each pulls from: the origin that took its publisher, else any (chosen once per reply).
    const origins = await this.originNodes();
    const anyOrigin = this.rtmpBase(leastLoaded(origins, 'origin', new Map())?.node.address ?? '127.0.0.1');
    const sources = new Map<string, string>();
    for (const s of streams) {
      const named = s.origin ? origins.find((n) => n.id === s.origin && n.state !== 'gone') ?? await this.present(s.origin) : undefined;
      sources.set(`${s.app}/${s.stream}`, named ? this.rtmpBase(named.address) : anyOrigin);
    }
    return jobsFor(streams, { now: this.o.now(), graceSeconds: this.o.endGraceSeconds,
      sourceOf: (s) => sources.get(`${s.app}/${s.stream}`) ?? anyOrigin });
  }

}
