// The controller's REST API under /api/v1 (express): thin routes (routes/) over the controller's
// services (heartbeats, publishing, playback, retention), which own their state. Admin endpoints take
// the admin token, agent endpoints and origin callbacks the agent token: 401 without a token, 403
// with the wrong one. Every error has one shape: { statusCode, code, message }.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import { DvrError, isDvrError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { secretCheck } from '../common/secrets.js';
import { Heartbeats } from './heartbeats.js';
import type { Leadership } from './leadership.js';
import { controllerMetrics, type ControllerMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { Playback } from './playback.js';
import { Publishing } from './publishing.js';
import { Retention } from './retention.js';
import { launchConfigRoutes, nodeRoutes } from './routes/cluster.js';
import type { ApiContext, Middleware } from './routes/context.js';
import { streamRoutes } from './routes/streams.js';
import type { Scaler } from './scaler.js';
import type { StateStore } from './store.js';
import { StreamMapsCache } from './stream-maps.js';
import type { StreamDefaults } from './streams.js';

export interface ApiOptions {
  store: StateStore;
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
  /** The controller's metrics (made here when not given). */
  metrics?: ControllerMetrics;
  /** Whether this controller leads (the API lists the cluster's controllers). */
  leadership?: Pick<Leadership, 'leads' | 'holder'>;
}

type TokenKind = 'admin' | 'agent';

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

/** The check of one token kind, as express middleware. */
function auth(kind: TokenKind, expected: string): Middleware {
  const matches = secretCheck(expected);
  return (req, _res, next) => {
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
    next(matches(token) ? undefined : new DvrError('DVR_ERR_FORBIDDEN', `the token given is not the ${kind} token`));
  };
}

/** The dashboard's static files (web/dashboard in the source tree; not compiled). */
const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web/dashboard');
const UPLOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules/uplot/dist');

/** The services the routes call, made once over the store. */
function services(o: ApiOptions): ApiContext {
  const { store, log, now } = o;
  const metrics = o.metrics ?? controllerMetrics(store);
  const retention = new Retention(store, log, now);
  const publishing = new Publishing(store, log, metrics, { originRtmpPort: o.originRtmpPort, endGraceSeconds: o.endGraceSeconds,
    publishHost: o.publishHost, quietAfterMs: o.quietAfterMs, now });
  const playback = new Playback(store, { edgeHttpPort: o.edgeHttpPort, signingSecret: o.signingSecret,
    playbackTtlSeconds: o.playbackTtlSeconds, now });
  const heartbeats = new Heartbeats(store, log, { publishing, retention, maps: new StreamMapsCache(store), metrics, now,
    steeringEdges: () => playback.steeringEdges() });
  return { store, log, heartbeats, publishing, playback, retention, scaler: o.scaler, metrics, defaults: o.streamDefaults ?? {},
    admin: auth('admin', o.adminToken), agent: auth('agent', o.agentToken), leads: () => o.leadership?.leads ?? true };
}

/** The dashboard (public static code; everything it shows comes from the API with the admin token), OpenAPI, health, metrics. */
function pageRoutes(app: express.Express, c: ApiContext): void {
  app.get('/metrics', c.admin, (_req, res, next) => {
    c.metrics.registry.metrics().then((text) => res.type(c.metrics.registry.contentType).send(text), next);
  });
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
  app.get('/api/v1/health', async (_req, res) => {
    res.json({ status: 'ok', nodes: (await c.store.nodes()).length, streams: (await c.playback.all()).length, store: c.store.engine,
      leader: c.leads() });
  });
  // The cluster's controllers, as each last said it was alive, and which one leads.
  app.get('/api/v1/controllers', c.admin, async (_req, res) => {
    const now = Date.now();
    res.json({ store: c.store.engine, thisLeads: c.leads(),
      controllers: (await c.store.controllers()).map((x) => ({ ...x, secondsSinceSeen: Math.round((now - x.lastSeen) / 100) / 10 })) });
  });
}

export function createApi(o: ApiOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The API's answers are made for each request (a heartbeat's reply, a list): an ETag would cost a
  // hash of every body and save nothing.
  app.set('etag', false);
  app.use(express.json({ limit: '256kb' }));
  app.use(express.urlencoded({ extended: false, limit: '16kb' }));
  const c = services(o);
  pageRoutes(app, c);
  launchConfigRoutes(app, c);
  nodeRoutes(app, c);
  streamRoutes(app, c);
  app.use((_req, _res, next) => next(new DvrError('DVR_ERR_NOT_FOUND', 'no such endpoint under /api/v1')));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = isDvrError(err) ? err : clientError(err, req);
    if (!e) o.log.error({ err: String(err), path: req.path }, 'request failed');
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
