// The transcoder's live view over HTTP, for edges whose storage reads fail (packager/live-view.ts):
// GET /<app>/<stream>/<file> and /<app>/<stream>/<rendition>/[dash/]<file>, only with the cluster's
// live-view key (Authorization: Bearer). Never reads the shared storage: memory and the local spool.
import http from 'node:http';
import { once } from 'node:events';
import type { Logger } from '../../common/log.js';
import { isName } from '../../common/names.js';
import { bearerIs } from '../../common/secrets.js';
import { answerLive, type LiveAnswer, type LiveSource } from '../../packager/live-view.js';
import { answerLlPlaylist, answerPart, parseLlQuery, type LlSource } from '../../packager/live-edge.js';
import { parsePartName } from '../../packager/layout.js';
import { whileConnected } from '../../common/while-connected.js';

export interface LiveViewServerOptions {
  host: string;
  port: number;
  key: string;
  /** The stream's live source, when it is packaged here. */
  find: (app: string, stream: string) => (LiveSource & LlSource) | undefined;
  log: Logger;
}

/** A file name the live view may be asked for: letters, digits, dot, dash, underscore; no dotfile. */
const FILE_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export class LiveViewServer {
  private constructor(private readonly server: http.Server) {}

  static async start(o: LiveViewServerOptions): Promise<LiveViewServer> {
    const server = http.createServer((req, res) => {
      handle(o, req, res).catch((err: unknown) => {
        o.log.error({ url: req.url, err: String(err) }, 'live view request failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.keepAliveTimeout = 65_000;
    server.listen(o.port, o.host);
    await once(server, 'listening');
    return new LiveViewServer(server);
  }

  get port(): number {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(o: LiveViewServerOptions, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    return;
  }
  if (!bearerIs(req.headers.authorization, o.key)) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
    return;
  }
  const url = new URL(req.url ?? '/', 'http://live-view');
  const parts = url.pathname.split('/').slice(1);
  const [app, stream, ...rest] = parts;
  const src = isName(app) && isName(stream) && rest.length > 0 && rest.every((p) => FILE_RE.test(p)) ? o.find(app, stream) : undefined;
  if (!src) {
    res.writeHead(404, { 'Cache-Control': 'no-store' }).end();
    return;
  }
  // The edge's low-latency path says so; its live fallback (the storage stalls) is the plain live view.
  const ll = src.lowLatency && req.headers['x-dvr-low-latency'] === '1';
  const a = (ll ? await answerLowLatency(src, rest, url.searchParams, req, res) : undefined) ?? await answerLive(src, rest);
  if (a.status !== 200) {
    res.writeHead(a.status, { 'Cache-Control': 'no-store', 'X-DVR-Reason': a.reason }).end();
    return;
  }
  res.writeHead(200, {
    'Content-Type': a.type, 'Content-Length': a.body.length,
    'Cache-Control': a.kind === 'playlist' ? 'public, max-age=1' : a.kind === 'provisional' ? 'public, max-age=2'
      : 'public, max-age=31536000, immutable',
  });
  res.end(req.method === 'HEAD' ? undefined : a.body);
}

/**
 * A low-latency stream's blocking reload (a rendition's playlist with _HLS_msn) or partial segment;
 * undefined for anything else. Waits at most three target durations (RFC 8216bis 6.2.5.2), or
 * until the client goes.
 */
async function answerLowLatency(src: LiveSource & LlSource, rest: readonly string[], query: URLSearchParams,
  req: http.IncomingMessage, res: http.ServerResponse): Promise<LiveAnswer | undefined> {
  const [rendition, name] = rest;
  if (rest.length !== 2 || rendition === undefined || name === undefined) return undefined;
  const isPart = parsePartName(name) !== undefined;
  const q = isPart || name !== 'index.m3u8' ? undefined : parseLlQuery(query);
  if (!isPart && q === undefined) return undefined;
  if (q !== undefined && 'error' in q) return { status: 400, reason: q.error };
  const target = src.llRendition(rendition)?.input.target ?? 2;
  const { value } = await whileConnected(req, res, (signal) => (isPart ? answerPart(src, rendition, name, 3 * target * 1000, signal)
    : answerLlPlaylist(src, rendition, q as Exclude<typeof q, undefined | { error: string }>, 3 * target * 1000, signal)));
  return value;
}
