// The controller's REST API under /api/v1 (express). Admin endpoints take the admin token,
// agent endpoints and origin callbacks the agent token: 401 without a token, 403 with the wrong
// one. Every error has one shape: { statusCode, code, message }.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { urlHost } from '../common/address.js';
import { DvrError, isDvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { Heartbeat, HeartbeatReply, StreamFigures } from '../common/protocol.js';
import type { TranscodeJob } from '../common/job.js';
import { compile, validateOrThrow } from '../common/schema.js';
import { sameSecret } from '../common/secrets.js';
import { isName } from '../common/names.js';
import { PLAYLIST_CAP_DEFAULT_SECONDS, settingsAdvice } from '../common/stream-settings.js';
import { signedPlaybackPath } from '../nginx/signing.js';
import { leastLoaded, transcoderFor } from './allocation.js';
import { parseHeartbeat } from './heartbeat-schema.js';
import { jobsFor } from './jobs.js';
import { nextState } from './node-states.js';
import { isRole, parseLaunchConfig, targetsByRole, type Role } from './launch-config.js';
import { controllerMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import type { Scaler } from './scaler.js';
import { scaleRequestSchema } from './scaling.js';
import type { NodeRow, Store, StreamRow } from './store.js';
import { History } from './history.js';
import { expiredRecordings, recordingsOf } from './recordings.js';
import { newStream, patchedStream, type StreamDefaults } from './streams.js';

/** What edges and relays must know of the streams: which need a token, which events ended. Pure. */
export function streamMapsOf(streams: readonly StreamRow[]): NonNullable<HeartbeatReply['streamMaps']> {
  const ref = (s: StreamRow): { app: string; stream: string } => ({ app: s.app, stream: s.stream });
  return { signed: streams.filter((s) => s.settings.signedPlayback).map(ref), ended: streams.filter((s) => s.status === 'ended').map(ref) };
}

export interface ApiOptions {
  store: Store;
  scaler: Scaler;
  log: Logger;
  adminToken: string;
  agentToken: string;
  signingSecret: string;
  /** Ports the roles serve on: origins take RTMP here, edges serve HTTP here. */
  originRtmpPort: number;
  edgeHttpPort: number;
  /** Seconds a job stays with its transcoder after the publisher left (the agent's reconnect grace). */
  endGraceSeconds: number;
  /** The name publishers use for the origins (DNS with every origin's address, or a load balancer). */
  publishHost?: string;
  /** A transcoder silent this long gets no publisher back (it may be dying; the sweep decides). */
  quietAfterMs: number;
  playbackTtlSeconds: number;
  now: () => number;
  /** The cluster's defaults for new streams (DVR_STREAM_DEFAULTS). */
  streamDefaults?: Readonly<StreamDefaults>;
}

type TokenKind = 'admin' | 'agent';

/** An nginx-rtmp callback's form: every field it sends is one string (a repeated or nested field is refused). */
function hookForm(req: Request, hook: string): Record<string, string | undefined> {
  const form = (req.body ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(form)) {
    if (typeof v !== 'string') {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `hook ${hook}: '${k}' must be one string, not ${JSON.stringify(v)}`);
    }
  }
  return form as Record<string, string | undefined>;
}

const same = sameSecret;

/** The streams a node's last heartbeat reported figures for. */
const reportedStreams = (n: NodeRow): StreamFigures[] => (n.metrics as { streams?: StreamFigures[] } | null)?.streams ?? [];

/** A clip's start: Unix seconds or an ISO 8601 time, as the edge's time-shift URLs take them. */
function clipTime(raw: unknown, name: string): number {
  const v = typeof raw === 'string' ? raw : '';
  // An ISO time names its zone (Z or an offset): the controller's own zone is no one's business.
  const iso = /^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)$/;
  const t = /^\d{9,11}$/.test(v) ? Number(v) : iso.test(v) ? Math.floor(Date.parse(v) / 1000) : NaN;
  if (!Number.isFinite(t)) {
    throw new DvrError('DVR_ERR_BAD_REQUEST', `clip: ?${name}='${v}' is not Unix seconds or an ISO 8601 time with its zone`);
  }
  return t;
}

/**
 * The token of a request: the Authorization header; the agent token also as ?token= (nginx-rtmp's
 * callbacks cannot set headers). The admin token never in a URL, which proxies and logs keep.
 */
function tokenOf(req: Request, kind: TokenKind): string | undefined {
  const h = req.headers.authorization;
  if (h?.startsWith('Bearer ')) return h.slice(7);
  const q = req.query['token'];
  if (q !== undefined && kind === 'admin') {
    throw new DvrError('DVR_ERR_UNAUTHORIZED', 'the admin token goes in the Authorization header (Bearer), not in ?token=');
  }
  return typeof q === 'string' ? q : undefined;
}

/** The dashboard's static files (web/dashboard in the source tree; not compiled). */
const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dashboard');
const UPLOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/uplot/dist');

const validateScale = compile<{ role: Role; count: number }>(scaleRequestSchema);

export function createApi(o: ApiOptions): express.Express {
  const { store, log } = o;
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));

  const auth = (kind: TokenKind) => (req: Request, _res: Response, next: NextFunction): void => {
    let token: string | undefined;
    try {
      token = tokenOf(req, kind);
    } catch (err) {
      next(err);
      return;
    }
    if (token === undefined) {
      next(new DvrError('DVR_ERR_UNAUTHORIZED', `this endpoint needs the ${kind} token (Authorization: Bearer <token>)`));
      return;
    }
    const expected = kind === 'admin' ? o.adminToken : o.agentToken;
    next(same(token, expected) ? undefined : new DvrError('DVR_ERR_FORBIDDEN', `the token given is not the ${kind} token`));
  };
  const admin = auth('admin');
  const agent = auth('agent');
  const param = (req: Request, name: string): string => String(req.params[name] ?? '');

  const metrics = controllerMetrics(store);
  app.get('/metrics', admin, (_req, res, next) => {
    metrics.registry.metrics().then((text) => res.type(metrics.registry.contentType).send(text), next);
  });
  // The dashboard is public static code; everything it shows comes from the API with the admin token.
  app.get('/dashboard', (req, res, next) => { if (req.originalUrl === '/dashboard') res.redirect(301, '/dashboard/'); else next(); });
  const dashboardHeaders = (_req: Request, res: Response, next: NextFunction): void => {
    res.set({
      'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'Cache-Control': 'no-cache',
    });
    next();
  };
  // The plots' library, vendored from npm (uPlot): these two files only.
  for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
    app.get(`/dashboard/vendor/${file}`, dashboardHeaders, (_req, res, next) => {
      res.sendFile(path.join(UPLOT_DIR, file), (err) => { if (err) next(err); });
    });
  }
  app.use('/dashboard/', dashboardHeaders, express.static(DASHBOARD_DIR, { index: 'index.html', fallthrough: false, dotfiles: 'ignore' }));
  const openapi = openApiDocument();
  app.get('/api/v1/openapi.json', (_req, res) => { res.json(openapi); });
  app.get('/api/v1/health', (_req, res) => {
    res.json({ status: 'ok', nodes: store.nodes().length, streams: store.streams().length + localStreams().length });
  });

  // Launch configs
  app.get('/api/v1/launch-configs', admin, (_req, res) => { res.json(store.launchConfigs().map((c) => c.body)); });
  app.post('/api/v1/launch-configs', admin, (req, res) => {
    const config = parseLaunchConfig(req.body);
    if (!store.putLaunchConfig(config.launchconfig.name, config)) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: $.launchconfig.name: '${config.launchconfig.name}' is taken; `
        + 'delete it first or use another name');
    }
    targets = undefined;
    res.status(201).json(config);
  });
  app.get('/api/v1/launch-configs/:name', admin, (req, res) => {
    const found = store.launchConfigs().find((c) => c.name === param(req, 'name'));
    if (!found) throw new DvrError('DVR_ERR_NOT_FOUND', `no launch config '${param(req, 'name')}'`);
    res.json(found.body);
  });
  // As Red5's stream manager updates one: the whole config, under its name; applied with the next heartbeats.
  app.put('/api/v1/launch-configs/:name', admin, (req, res) => {
    const config = parseLaunchConfig(req.body);
    if (config.launchconfig.name !== param(req, 'name')) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: $.launchconfig.name: '${config.launchconfig.name}' `
        + `is not the name in the path ('${param(req, 'name')}')`);
    }
    const created = store.replaceLaunchConfig(config.launchconfig.name, config);
    targets = undefined;
    log.info({ launchConfig: config.launchconfig.name, created }, created ? 'launch config stored' : 'launch config replaced');
    res.status(created ? 201 : 200).json(config);
  });
  app.delete('/api/v1/launch-configs/:name', admin, (req, res) => {
    if (!store.deleteLaunchConfig(param(req, 'name'))) throw new DvrError('DVR_ERR_NOT_FOUND', `no launch config '${param(req, 'name')}'`);
    targets = undefined;
    res.status(204).end();
  });

  // Nodes
  // A node's capacity is its role's in the stored launch configs, read again when they change and
  // applied with each heartbeat; without one, a node keeps what it had (1 at first).
  let targets: ReturnType<typeof targetsByRole> | undefined;
  const capacityFor = (role: Role, known: number | undefined): number =>
    (targets ??= targetsByRole(store.launchConfigs())).get(role)?.connectionCapacity ?? (known !== undefined && known > 0 ? known : 1);
  app.get('/api/v1/nodes', admin, (req, res) => {
    const role = typeof req.query['role'] === 'string' ? req.query['role'] : undefined;
    const state = typeof req.query['state'] === 'string' ? req.query['state'] : undefined;
    res.json(store.nodes({ ...(role ? { role } : {}), ...(state ? { state } : {}) }));
  });
  app.post('/api/v1/nodes/:id/drain', admin, (req, res) => {
    const n = store.node(param(req, 'id'));
    if (!n) throw new DvrError('DVR_ERR_NOT_FOUND', `no node '${param(req, 'id')}'`);
    const state = nextState(n.state, 'drain');
    if (!state) throw new DvrError('DVR_ERR_CONFLICT', `node '${n.id}' is ${n.state}: it cannot drain`);
    store.setNodeState(n.id, state);
    log.info({ node: n.id }, 'node draining: no new streams');
    res.json({ ...n, state });
  });
  app.post('/api/v1/nodes/:id/heartbeat', agent, (req, res) => {
    const id = param(req, 'id');
    const body: Partial<Heartbeat> & { address?: string } = parseHeartbeat(req.body);
    if (!isName(id) || body.nodeId !== id) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `heartbeat: $.nodeId must be the node id in the path ('${id}')`);
    }
    const role = body.role ?? 'transcoder';
    if (!isRole(role)) throw new DvrError('DVR_ERR_BAD_REQUEST', `heartbeat: $.role: unknown role '${String(role)}'`);
    const known = store.node(id);
    const state = nextState(known?.state, 'heartbeat') ?? 'inservice';
    const row: NodeRow = { id, role, state,
      address: body.address ?? known?.address ?? (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      capacity: capacityFor(role, known?.capacity), lastHeartbeat: o.now(),
      metrics: { system: body.system, streams: body.streams, storage: body.storage,
        ...(Array.isArray(body.failedJobs) && body.failedJobs.length > 0 ? { failedJobs: body.failedJobs.slice(0, 100) } : {}),
        ...(typeof body.connections === 'number' && body.connections >= 0 ? { connections: Math.floor(body.connections) } : {}),
        ...(body.nginx === 'up' || body.nginx === 'down' ? { nginx: body.nginx } : {}) },
      since: known?.state === state && known.since > 0 ? known.since : o.now() };
    store.upsertNode(row);
    metrics.heartbeats.inc();
    if (!known || known.state !== state) log.info({ node: id, role, state }, 'node in service');
    if (role === 'transcoder') recordingsFrom(id, body);
    history.record(id, body, o.now());
    if (o.now() - prunedAt > 60_000) pruneFigures();
    const reply: HeartbeatReply = role === 'transcoder' ? { jobs: transcoderJobs(id), ...deletions(id) }
      : role === 'origin' ? {} : { streamMaps: streamMaps() };
    res.json(reply);
  });

  // The dashboard's plots: the last half hour of what heartbeats carried.
  const history = new History();
  /** Forgets the figures of nodes and streams that are gone (checked at most once a minute, and when the dashboard asks). */
  let prunedAt = 0;
  const pruneFigures = (): void => {
    prunedAt = o.now();
    const nodes = store.nodes().filter((n) => n.state !== 'gone');
    // The API's streams, and those transcoders run from their own config (the appliance's demo).
    const reported = nodes.flatMap((n) => reportedStreams(n).map((f) => `${f.app}/${f.stream}`));
    const streams = new Set([...store.streams().map((s) => `${s.app}/${s.stream}`), ...reported]);
    history.keepOnly(new Set(nodes.map((n) => n.id)), streams);
    for (const k of storedAt.keys()) if (!streams.has(k)) storedAt.delete(k);
  };
  // Recordings: what a transcoder's streams take on the storage, and the media it deleted.
  // (Written at most every 10 s a stream: a figure, not worth a write per heartbeat.)
  const storedAt = new Map<string, number>();
  const recordingsFrom = (id: string, body: Partial<Heartbeat>): void => {
    for (const f of body.streams ?? []) {
      const k = `${f.app}/${f.stream}`;
      if (typeof f.storedBytes !== 'number' || o.now() - (storedAt.get(k) ?? 0) < 10_000) continue;
      if (store.stream(f.app, f.stream)?.transcoder !== id) continue;
      store.setStoredBytes(f.app, f.stream, f.storedBytes);
      storedAt.set(k, o.now());
    }
    for (const d of body.deletedRecordings ?? []) {
      if (!store.markMediaDeleted(d.app, d.stream, d.endedAt, o.now())) continue;
      log.info({ stream: `${d.app}/${d.stream}`, node: id }, 'recording deleted');
      expired = expired.filter((e) => e.app !== d.app || e.stream !== d.stream);
    }
  };
  /**
   * Expired recordings go to one transcoder in service whose storage is available (the first by id):
   * one deleter, no races on the storage. Looked up again every few seconds, not at each heartbeat.
   */
  let expiredAt = -Infinity;
  let expired: ReturnType<typeof expiredRecordings> = [];
  const deletions = (id: string): Pick<HeartbeatReply, 'deleteRecordings'> => {
    if (store.firstWithStorage('transcoder') !== id) return {};
    if (o.now() - expiredAt >= 5_000) {
      expired = expiredRecordings(store.endedWithMedia(), o.now());
      expiredAt = o.now();
    }
    return expired.length > 0 ? { deleteRecordings: expired } : {};
  };

  // What edges and relays need to know of the streams (nginx's stream maps), rebuilt when streams change.
  let maps: { version: number; value: NonNullable<HeartbeatReply['streamMaps']> } | undefined;
  const streamMaps = (): NonNullable<HeartbeatReply['streamMaps']> => {
    if (maps?.version !== store.streamsVersion) maps = { version: store.streamsVersion, value: streamMapsOf(store.streams()) };
    return maps.value;
  };

  /** A node the controller still knows (not handed back). */
  const present = (id: string): NodeRow | undefined => {
    const n = store.node(id);
    return n && n.state !== 'gone' ? n : undefined;
  };
  const rtmpBase = (address: string): string => `rtmp://${urlHost(address)}:${o.originRtmpPort}`;
  /** Where publishers go: an origin in service. */
  const originUrl = (): string => rtmpBase(leastLoaded(store.nodes({ role: 'origin' }), 'origin', new Map())?.node.address ?? '127.0.0.1');
  /** Where a transcoder pulls from: the origin that took the publisher (any, for an origin that does not name itself). */
  const sourceUrl = (s: StreamRow): string => {
    const named = s.origin ? present(s.origin) : undefined;
    return named ? rtmpBase(named.address) : originUrl();
  };
  const transcoderJobs = (nodeId: string): TranscodeJob[] =>
    jobsFor(store.streamsOn(nodeId), { now: o.now(), graceSeconds: o.endGraceSeconds, sourceOf: sourceUrl });

  // Streams
  const findStream = (req: Request): StreamRow => {
    const s = store.stream(param(req, 'app'), param(req, 'stream'));
    if (!s) {
      const local = localStreams().find((l) => l.app === param(req, 'app') && l.stream === param(req, 'stream'));
      throw local ? new DvrError('DVR_ERR_CONFLICT', `${local.app}/${local.stream} runs from transcoder '${local.transcoder ?? ''}'s `
        + 'own config (a local stream): it has no publisher and its settings are that config\'s')
        : new DvrError('DVR_ERR_NOT_FOUND', `no stream ${param(req, 'app')}/${param(req, 'stream')}`);
    }
    return s;
  };
  /**
   * Streams a transcoder runs from its own config (the appliance's demo), known by their heartbeats:
   * listed beside the API's own, marked local, with the settings that config gives them.
   */
  const localStreams = (): StreamRow[] => {
    const rows = new Map<string, StreamRow>();
    for (const n of store.nodes({ role: 'transcoder' })) {
      if (n.state === 'gone') continue;
      for (const f of reportedStreams(n)) {
        const k = `${f.app}/${f.stream}`;
        if (!f.local || rows.has(k) || store.stream(f.app, f.stream)) continue;
        const { dvr, ...encoding } = f.local;
        let settings: StreamRow['settings'];
        try {
          settings = newStream({ app: f.app, stream: f.stream, ...encoding, ...dvr }, {}).settings;
        } catch {
          settings = newStream({ app: f.app, stream: f.stream }, {}).settings;
        }
        rows.set(k, { app: f.app, stream: f.stream, settings, streamKey: '', status: f.ended ? 'ended' : 'live', transcoder: n.id,
          endingSince: undefined, local: true });
      }
    }
    return [...rows.values()];
  };
  const publicStream = (s: StreamRow): object => {
    // Rows stored before a setting existed take its default.
    const settings = { ...s.settings, retentionHours: s.settings.retentionHours ?? 0,
      playlistCapSeconds: s.settings.playlistCapSeconds ?? PLAYLIST_CAP_DEFAULT_SECONDS };
    return { app: s.app, stream: s.stream, ...settings, status: s.status, transcoder: s.transcoder ?? null, origin: s.origin ?? null,
      epoch: s.epoch ?? 0, ...(s.local ? { local: true } : {}),
      warnings: settingsAdvice(`${s.app}/${s.stream}`, { ...settings, renditions: settings.ladder.length }) };
  };
  const defaults = o.streamDefaults ?? {};
  app.get('/api/v1/stream-defaults', admin, (_req, res) => { res.json(defaults); });
  app.post('/api/v1/streams', admin, (req, res) => {
    const { app: a, stream: name, settings } = newStream(req.body, defaults);
    const row: StreamRow = { app: a, stream: name, settings, streamKey: randomBytes(18).toString('base64url'),
      status: 'idle', transcoder: undefined, endingSince: undefined };
    if (!store.insertStream(row)) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid stream: $.stream: ${a}/${name} exists`);
    res.status(201).json({ ...publicStream(row), streamKey: row.streamKey });
  });
  app.get('/api/v1/streams', admin, (_req, res) => { res.json([...store.streams(), ...localStreams()].map(publicStream)); });
  app.get('/api/v1/streams/:app/:stream', admin, (req, res) => { res.json(publicStream(findPlayable(req))); });
  // Its DVR settings (window, recording, storage cap, ...) and signing; a running stream's transcoder
  // applies them with its next heartbeat, without restarting the encoder.
  app.patch('/api/v1/streams/:app/:stream', admin, (req, res) => {
    const s = findStream(req);
    const settings = patchedStream(s.settings, req.body, defaults);
    store.updateStreamSettings(s.app, s.stream, settings);
    log.info({ stream: `${s.app}/${s.stream}`, changed: Object.keys(req.body as object) }, 'stream settings changed');
    res.json(publicStream({ ...s, settings }));
  });
  app.delete('/api/v1/streams/:app/:stream', admin, (req, res) => {
    const s = findStream(req);
    store.deleteStream(s.app, s.stream);
    res.status(204).end();
  });
  app.get('/api/v1/history', admin, (_req, res) => {
    pruneFigures();
    res.json(history.snapshot());
  });
  app.get('/api/v1/recordings', admin, (_req, res) => { res.json(recordingsOf(store.endedWithMedia())); });
  app.get('/api/v1/streams/:app/:stream/publish', admin, (req, res) => {
    const s = findStream(req);
    // With a publish host (a DNS name for every origin, or a load balancer in front of them), a
    // publisher that reconnects after its origin died lands on a live one.
    const base = o.publishHost !== undefined ? `rtmp://${urlHost(o.publishHost)}:${o.originRtmpPort}` : originUrl();
    res.json({ url: `${base}/${s.app}/${s.stream}?key=${s.streamKey}` });
  });
  /** A URL for one of a stream's files on the least-loaded edge, signed when the stream asks for it. */
  const edgeUrl = (s: StreamRow, file: string): { url: string; edge: string; expires?: number } => {
    // An edge whose agent says its nginx does not answer gets no viewers.
    const edges = store.nodes({ role: 'edge' }).filter((e) => (e.metrics as { nginx?: string } | null)?.nginx !== 'down');
    const viewers = new Map(edges.map((e) => [e.id, Number((e.metrics as { connections?: number } | null)?.connections ?? 0)]));
    const edge = leastLoaded(edges, 'edge', viewers);
    if (!edge) throw new DvrError('DVR_ERR_NO_CAPACITY', 'no edge in service has room for another viewer; scale out the edge role');
    const base = `http://${urlHost(edge.node.address)}:${o.edgeHttpPort}`;
    const expires = Math.floor(o.now() / 1000) + o.playbackTtlSeconds;
    const p = s.settings.signedPlayback ? signedPlaybackPath(o.signingSecret, s.app, s.stream, file, expires)
      : `/${s.app}/${s.stream}/${file}`;
    return { url: base + p, edge: edge.node.id, ...(s.settings.signedPlayback ? { expires } : {}) };
  };
  /**
   * A stream to play: one of the API's, or one a transcoder runs from its own config (the
   * appliance's demo), known only by its heartbeat (unsigned).
   */
  const findPlayable = (req: Request): StreamRow => {
    const [a, name] = [param(req, 'app'), param(req, 'stream')];
    const s = store.stream(a, name) ?? localStreams().find((l) => l.app === a && l.stream === name);
    if (!s) throw new DvrError('DVR_ERR_NOT_FOUND', `no stream ${a}/${name}`);
    return s;
  };
  app.get('/api/v1/streams/:app/:stream/playback', admin, (req, res) => { res.json(edgeUrl(findPlayable(req), 'master.m3u8')); });
  // A clip of the window as one MP4 (the edge cuts it from the segments, without re-encoding).
  app.get('/api/v1/streams/:app/:stream/clip', admin, (req, res) => {
    const s = findPlayable(req);
    const from = clipTime(req.query['from'], 'from');
    const duration = Number(req.query['duration']);
    if (!Number.isInteger(duration) || duration < 1 || duration > 86_400) {
      throw new DvrError('DVR_ERR_BAD_REQUEST',
        `clip: ?duration='${String(req.query['duration'] ?? '')}' must be whole seconds, 1 to 86400`);
    }
    res.json({ ...edgeUrl(s, `archive-${from}-${duration}.mp4`), from: new Date(from * 1000).toISOString(), duration });
  });

  // Scaling: manual actions and the audit trail of every action
  app.get('/api/v1/scale', admin, (_req, res) => { res.json({ events: store.scaleEvents() }); });
  app.post('/api/v1/scale', admin, (req, res, next) => {
    const body = validateOrThrow(validateScale, req.body, 'scale request');
    o.scaler.scale(body.role, body.count, 'manual').then((nodes) => res.json({ nodes }), next);
  });

  // Origin callbacks (nginx-rtmp on_publish / on_publish_done, form-encoded)
  app.post('/api/v1/hooks/publish', agent, (req, res) => {
    const form = hookForm(req, 'publish');
    const s = store.stream(form['app'] ?? '', form['name'] ?? '');
    if (!s || !form['key'] || !same(form['key'], s.streamKey)) {
      log.warn({ app: form['app'], stream: form['name'], addr: form['addr'] }, 'publish refused: unknown stream or wrong key');
      metrics.publishRefused.inc();
      throw new DvrError('DVR_ERR_FORBIDDEN', 'unknown stream or wrong stream key');
    }
    // The origin that took the publisher names itself (its hook URL's node=); its transcoder pulls there.
    const origin = typeof req.query['node'] === 'string' ? present(req.query['node']) : undefined;
    const timer = metrics.allocation.startTimer();
    const transcoder = store.transaction(() => {
      const loads = store.loadOf('transcoder');
      const chosen = transcoderFor({ current: s.transcoder ? store.node(s.transcoder) : undefined, loads,
        used: new Map(loads.map((l) => [l.id, l.used])), origin, now: o.now(), quietAfterMs: o.quietAfterMs });
      if (!chosen) return undefined;
      store.setStreamStatus(s.app, s.stream, 'live', chosen);
      store.setStreamOrigin(s.app, s.stream, origin?.id);
      return { id: chosen };
    });
    timer();
    if (!transcoder) {
      log.warn({ stream: `${s.app}/${s.stream}` }, 'publish refused: no transcoder has room');
      throw new DvrError('DVR_ERR_NO_CAPACITY', 'no transcoder has room for this stream; scale out the transcoder role');
    }
    log.info({ stream: `${s.app}/${s.stream}`, transcoder: transcoder.id, origin: origin?.id }, 'publish accepted');
    res.status(200).end();
  });
  app.post('/api/v1/hooks/publish-done', agent, (req, res) => {
    const form = hookForm(req, 'publish-done');
    const s = store.stream(form['app'] ?? '', form['name'] ?? '');
    if (s && s.status === 'live') store.setStreamStatus(s.app, s.stream, 'ending', s.transcoder, o.now());
    res.status(200).end();
  });

  app.use((_req, _res, next) => next(new DvrError('DVR_ERR_NOT_FOUND', 'no such endpoint under /api/v1')));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = isDvrError(err) ? err : clientError(err, req);
    if (!e) log.error({ err: String(err), path: req.path }, 'request failed');
    res.status(e?.statusCode ?? 500).json((e ?? new DvrError('DVR_ERR_INTERNAL', 'internal error; see the controller log')).toJSON());
  });
  return app;
}

/**
 * What the request did wrong, from the errors express and its body parser raise (bad JSON, a body
 * too large, a charset it cannot read, a path that does not decode); undefined: the fault is ours.
 */
function clientError(err: unknown, req: Request): DvrError | undefined {
  const e = err as { type?: string; status?: number; message?: string; charset?: string; encoding?: string };
  switch (e.type) {
    case 'entity.parse.failed': return new DvrError('DVR_ERR_BAD_REQUEST', `malformed JSON: ${e.message ?? ''}`);
    case 'entity.too.large': return new DvrError('DVR_ERR_TOO_LARGE', 'request body too large');
    case 'parameters.too.many': return new DvrError('DVR_ERR_TOO_LARGE', 'too many form parameters');
    case 'charset.unsupported': return new DvrError('DVR_ERR_UNSUPPORTED_MEDIA',
      `unsupported charset "${String(e.charset ?? '').toUpperCase()}": send the body as UTF-8`);
    case 'encoding.unsupported': return new DvrError('DVR_ERR_UNSUPPORTED_MEDIA',
      `unsupported content encoding "${e.encoding ?? ''}": send the body uncompressed`);
    default: break;
  }
  if (err instanceof URIError || /Failed to decode param/.test(e.message ?? '')) {
    return new DvrError('DVR_ERR_BAD_REQUEST', `the path does not decode (malformed percent-encoding): ${req.originalUrl.slice(0, 200)}`);
  }
  if (err instanceof RangeError && /call stack/.test(e.message ?? '')) {
    return new DvrError('DVR_ERR_BAD_REQUEST', 'the request body is nested too deeply');
  }
  // The static files refuse a path that climbs out of their directory with a 403: it is no file of theirs.
  if (e.status === 404 || (e.status === 403 && req.path.startsWith('/dashboard/'))) {
    return new DvrError('DVR_ERR_NOT_FOUND', `no such file: ${req.path}`);
  }
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new DvrError('DVR_ERR_BAD_REQUEST', e.message ?? 'bad request');
  }
  return undefined;
}
