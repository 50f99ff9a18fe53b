// The streams' routes: the API's streams (and the local ones, listed beside them), their publish and
// playback URLs, clips, recordings, the dashboard's history, and the origins' publish callbacks.
import { randomBytes } from 'node:crypto';
import type express from 'express';
import type { Request } from 'express';
import { DvrError } from '../../common/errors.js';
import { PLAYLIST_CAP_DEFAULT_SECONDS, settingsAdvice } from '../../common/stream-settings.js';
import type { PublishForm } from '../publishing.js';
import type { StreamRow } from '../store.js';
import { newStream, patchedStream } from '../streams.js';
import { param, type ApiContext } from './context.js';

/** How long DELETE ?purge=true waits for a transcoder to say what it removed. */
const PURGE_WAIT_MS = 30_000;

/** A stream as the API shows it: its settings (a row stored before a setting existed takes its default) and its state. */
function publicStream(s: StreamRow): object {
  const settings = { ...s.settings, retentionHours: s.settings.retentionHours ?? 0,
    playlistCapSeconds: s.settings.playlistCapSeconds ?? PLAYLIST_CAP_DEFAULT_SECONDS };
  return { app: s.app, stream: s.stream, ...settings, status: s.status, transcoder: s.transcoder ?? null, origin: s.origin ?? null,
    epoch: s.epoch ?? 0, ...(s.local ? { local: true } : {}), ...(s.purgeRequestedAt !== undefined ? { deleting: true } : {}),
    warnings: settingsAdvice(`${s.app}/${s.stream}`, { ...settings, renditions: settings.ladder.length }) };
}

/** An nginx-rtmp callback's form: every field it sends is one string (a repeated or nested field is refused). */
function hookForm(req: Request, hook: string): PublishForm {
  const form = (req.body ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(form)) {
    if (typeof v !== 'string') {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `hook ${hook}: '${k}' must be one string, not ${JSON.stringify(v)}`);
    }
  }
  return form as PublishForm;
}

export function streamRoutes(app: express.Express, c: ApiContext): void {
  const { store, admin, playback } = c;
  /** One of the API's streams (a local one is named as such: its settings are its transcoder's config's). */
  const stored = async (req: Request): Promise<StreamRow> => {
    const [a, name] = [param(req, 'app'), param(req, 'stream')];
    const s = await store.stream(a, name);
    if (s) return s;
    const local = (await playback.localStreams()).find((l) => l.app === a && l.stream === name);
    throw local ? new DvrError('DVR_ERR_CONFLICT', `${a}/${name} runs from transcoder '${local.transcoder ?? ''}'s own config (a local `
      + 'stream): it has no publisher and its settings are that config\'s') : new DvrError('DVR_ERR_NOT_FOUND', `no stream ${a}/${name}`);
  };
  const playable = (req: Request): Promise<StreamRow> => playback.find(param(req, 'app'), param(req, 'stream'));

  app.get('/api/v1/stream-defaults', admin, (_req, res) => { res.json(c.defaults); });
  app.post('/api/v1/streams', admin, async (req, res) => {
    const { app: a, stream: name, settings } = newStream(req.body, c.defaults);
    const row: StreamRow = { app: a, stream: name, settings, streamKey: randomBytes(18).toString('base64url'),
      status: 'idle', transcoder: undefined, endingSince: undefined };
    if (!await store.insertStream(row)) throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid stream: $.stream: ${a}/${name} exists`);
    res.status(201).json({ ...publicStream(row), streamKey: row.streamKey });
  });
  app.get('/api/v1/streams', admin, async (_req, res) => { res.json((await playback.all()).map(publicStream)); });
  app.get('/api/v1/streams/:app/:stream', admin, async (req, res) => { res.json(publicStream(await playable(req))); });
  // Its DVR settings (window, recording, storage cap, ...) and signing; a running stream's transcoder
  // applies them with its next heartbeat, without restarting the encoder.
  app.patch('/api/v1/streams/:app/:stream', admin, async (req, res) => {
    const s = await stored(req);
    const settings = patchedStream(s.settings, req.body, c.defaults);
    await store.updateStreamSettings(s.app, s.stream, settings);
    c.log.info({ stream: `${s.app}/${s.stream}`, changed: Object.keys(req.body as object) }, 'stream settings changed');
    res.json(publicStream({ ...s, settings }));
  });
  // ?purge=true: its media too (its directory and archived versions, removed by a transcoder), refused
  // while it runs; the answer waits a while to say what was removed (202: the removal goes on).
  app.delete('/api/v1/streams/:app/:stream', admin, async (req, res) => {
    const s = await stored(req);
    if (req.query['purge'] !== 'true') {
      await store.deleteStream(s.app, s.stream);
      res.status(204).end();
      return;
    }
    const done = await c.retention.purge(s, PURGE_WAIT_MS);
    if (done) res.json({ deleted: `${s.app}/${s.stream}`, removed: done.removed, bytes: done.bytes });
    else res.status(202).json({ deleting: `${s.app}/${s.stream}`, message: 'a transcoder is removing its media; the stream is '
      + 'listed (deleting: true) until it is done' });
  });
  app.get('/api/v1/streams/:app/:stream/publish', admin, async (req, res) => {
    res.json({ url: await c.publishing.publishUrl(await stored(req)) });
  });
  app.get('/api/v1/streams/:app/:stream/playback', admin, async (req, res) => {
    res.json(await playback.edgeUrl(await playable(req), 'master.m3u8'));
  });
  app.get('/api/v1/streams/:app/:stream/clip', admin, async (req, res) => {
    res.json(await playback.clip(await playable(req), req.query['from'], req.query['duration']));
  });
  app.get('/api/v1/recordings', admin, async (_req, res) => { res.json(await c.retention.list()); });
  app.get('/api/v1/history', admin, async (_req, res) => { res.json(await c.heartbeats.historySnapshot()); });

  // Origin callbacks (nginx-rtmp on_publish / on_publish_done, form-encoded). The origin that took
  // the publisher names itself (its hook URL's node=); its transcoder pulls there.
  app.post('/api/v1/hooks/publish', c.agent, async (req, res) => {
    await c.publishing.authorize(hookForm(req, 'publish'), typeof req.query['node'] === 'string' ? req.query['node'] : undefined);
    res.status(200).end();
  });
  app.post('/api/v1/hooks/publish-done', c.agent, async (req, res) => {
    await c.publishing.publishDone(hookForm(req, 'publish-done'), typeof req.query['node'] === 'string' ? req.query['node'] : undefined);
    res.status(200).end();
  });
}
