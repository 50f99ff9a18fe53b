// The OpenAPI document of /api/v1, served at /api/v1/openapi.json. Its request bodies are the very
// schemas the API validates with (launch configs, streams, stream updates, heartbeats, scale
// requests), and its responses are described by schemas built from the same pieces. A test checks
// that every route the API serves under /api/v1 is described here and nothing else.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NAME_SCHEMA, STREAM_DIR_PATTERN } from '../common/names.js';
import { heartbeatSchema } from './heartbeat-schema.js';
import { LAUNCH_CONFIG_DIR, ROLES } from './launch-config.js';
import { NODE_STATES } from './node-states.js';
import { scaleRequestSchema } from './scaling.js';
import { streamDefaultsSchema, streamPatchSchema, streamSchema } from './streams.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Op = { summary: string; security: 'admin' | 'agent' | 'none'; body?: string; ok: number; alsoOk?: number[]; returns?: object };
const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

const ref = (name: string): object => ({ $ref: `#/components/schemas/${name}` });
const list = (name: string): object => ({ type: 'array', items: ref(name) });

export const ROUTES: Record<string, Partial<Record<Method, Op>>> = {
  '/health': { get: { summary: 'Liveness and counts; 503 while the store does not answer', security: 'none', ok: 200,
    returns: { type: 'object', properties: { status: { const: 'ok' }, nodes: { type: 'integer' }, streams: { type: 'integer' },
      store: { enum: ['sqlite', 'postgres'] }, leader: { type: 'boolean', description: 'Whether this controller leads' } } } } },
  '/controllers': { get: { summary: 'The cluster\'s controllers over one store, and whether the one asked leads', security: 'admin',
    ok: 200, returns: { type: 'object', properties: { store: { enum: ['sqlite', 'postgres'] }, thisLeads: { type: 'boolean' },
      controllers: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, url: { type: 'string' },
        startedAt: { type: 'integer' }, lastSeen: { type: 'integer' }, secondsSinceSeen: { type: 'number' } } } } } } } },
  '/openapi.json': { get: { summary: 'This document', security: 'none', ok: 200, returns: { type: 'object' } } },
  '/launch-configs': {
    get: { summary: 'List launch configs', security: 'admin', ok: 200, returns: list('LaunchConfig') },
    post: { summary: 'Add a launch config (Red5 scale policy names, minLimit/maxLimit/scaleAdjustment/coolDownPeriod, are taken too: '
      + 'they are renamed before this schema applies)', security: 'admin', ok: 201,
      body: 'LaunchConfig', returns: ref('LaunchConfig') },
  },
  '/launch-configs/{name}': {
    get: { summary: 'One launch config', security: 'admin', ok: 200, returns: ref('LaunchConfig') },
    put: { summary: 'Add or replace a launch config (201 added, 200 replaced); the name in the body is the one in the path',
      security: 'admin', ok: 200, alsoOk: [201], body: 'LaunchConfig', returns: ref('LaunchConfig') },
    delete: { summary: 'Remove a launch config', security: 'admin', ok: 204 },
  },
  '/nodes': { get: { summary: 'Nodes, filtered by ?role= and ?state=', security: 'admin', ok: 200, returns: list('Node') } },
  '/nodes/{id}/drain': { post: { summary: 'Stop giving a node new streams', security: 'admin', ok: 200, returns: ref('Node') } },
  '/nodes/{id}/heartbeat': {
    post: { summary: 'A node reports; the reply lists its jobs (transcoders) or the stream maps (edges, relays) and the edges to steer '
      + 'players to (edges)', security: 'agent', ok: 200, body: 'Heartbeat', returns: { type: 'object', properties: {
      jobs: { type: 'array', items: { type: 'object' } },
      streamMaps: { type: 'object' },
      steering: { type: 'object', properties: { edges: { type: 'array', items: { type: 'object', required: ['id', 'url', 'connections'],
        properties: { id: NAME_SCHEMA, url: { type: 'string' }, connections: { type: 'integer' } } } } } },
      deleteRecordings: { type: 'array', items: { type: 'object', required: ['app', 'stream', 'endedAt'],
        properties: { app: NAME_SCHEMA, stream: NAME_SCHEMA, endedAt: { type: 'number' } } } } } } },
  },
  '/stream-defaults': {
    get: { summary: 'The cluster\'s defaults for new streams (DVR_STREAM_DEFAULTS)', security: 'admin', ok: 200,
      returns: ref('StreamDefaults') },
  },
  '/streams': {
    get: { summary: 'List streams', security: 'admin', ok: 200, returns: list('Stream') },
    post: { summary: 'Create a stream with its DVR settings (over the cluster\'s defaults); returns the stream key', security: 'admin',
      ok: 201, body: 'StreamCreate',
      returns: { allOf: [ref('Stream'), { type: 'object', properties: { streamKey: { type: 'string' } } }] } },
  },
  '/streams/{app}/{stream}': {
    get: { summary: 'One stream', security: 'admin', ok: 200, returns: ref('Stream') },
    patch: { summary: 'Change a stream\'s DVR settings or signing; a running stream\'s transcoder applies them without a restart',
      security: 'admin', ok: 200, body: 'StreamUpdate', returns: ref('Stream') },
    delete: { summary: 'Delete a stream (204; its media stays). With ?purge=true its media too: its directory and its archived '
      + 'versions, removed by a transcoder, refused while it runs (409); 200 with what was removed ({ deleted, removed, bytes }), or '
      + '202 while the removal goes on', security: 'admin', ok: 204, alsoOk: [200, 202] },
  },
  '/history': {
    get: { summary: 'The last half hour of what heartbeats carried, per node and per stream, as columns (t: ms, then each figure)',
      security: 'admin', ok: 200, returns: { type: 'object', properties: { sampleSeconds: { type: 'number' },
        nodes: { type: 'object' }, streams: { type: 'object' } } } },
  },
  '/recordings': {
    get: { summary: 'Ended events whose media is on the storage: size, end, retention and when they are deleted', security: 'admin',
      ok: 200, returns: { type: 'array', items: ref('Recording') } },
  },
  '/streams/{app}/{stream}/publish': {
    get: { summary: 'Origin ingest URL with the stream key', security: 'admin', ok: 200, returns: { type: 'object', required: ['url'],
      properties: { url: { type: 'string' } } } },
  },
  '/streams/{app}/{stream}/playback': {
    get: { summary: 'Playback URL on the least-loaded edge (signed when required)', security: 'admin', ok: 200, returns: {
      type: 'object', required: ['url', 'edge'], properties: { url: { type: 'string' }, edge: { type: 'string' },
        expires: { type: 'integer', description: 'Unix seconds, for a signed URL' } } } },
  },
  '/streams/{app}/{stream}/clip': {
    get: { summary: 'A clip of the window as one MP4 (?from=Unix seconds or ISO 8601, ?duration=seconds): its URL on the '
      + 'least-loaded edge, signed when required; the edge cuts it without re-encoding (404 outside the window)', security: 'admin',
    ok: 200, returns: { type: 'object', required: ['url', 'edge', 'from', 'duration'], properties: { url: { type: 'string' },
      edge: { type: 'string' }, from: { type: 'string' }, duration: { type: 'integer' }, expires: { type: 'integer' } } } },
  },
  '/scale': {
    get: { summary: 'Scale actions, newest first', security: 'admin', ok: 200, returns: { type: 'object', properties: {
      events: { type: 'array', items: { type: 'object' } } } } },
    post: { summary: 'Scale a role by hand', security: 'admin', ok: 200, body: 'ScaleRequest', returns: { type: 'object',
      properties: { nodes: { type: 'array', items: { type: 'string' } } } } },
  },
  '/hooks/publish': { post: { summary: 'Origin on_publish (form-encoded; agent token as ?token=): stream key check and transcoder '
    + 'allocation', security: 'agent', ok: 200 } },
  '/hooks/publish-done': { post: { summary: 'Origin on_publish_done (form-encoded)', security: 'agent', ok: 200 } },
};

/** A schema as a component: without the validator's own $id. */
function component(schema: object): object {
  const { $id: _id, $schema: _schema, ...rest } = schema as Record<string, unknown>;
  return rest;
}

export function openApiDocument(): object {
  const launchConfig = JSON.parse(readFileSync(path.join(LAUNCH_CONFIG_DIR, 'launch-config.schema.json'), 'utf8')) as object;
  const error = { type: 'object', required: ['statusCode', 'code', 'message'],
    properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } } };
  const stream = { type: 'object', required: ['app', 'stream', 'status'], properties: {
    ...streamSchema.properties, status: { enum: ['idle', 'live', 'ending', 'ended'] },
    transcoder: { type: ['string', 'null'] }, origin: { type: ['string', 'null'] },
    epoch: { type: 'integer', description: 'Its assignment epoch: raised each time it moves to another transcoder' },
    local: { type: 'boolean', description: 'Run by a transcoder from its own config (the appliance\'s demo): no publisher' },
    deleting: { type: 'boolean', description: 'Deleted with its media: listed until a transcoder has removed it' },
    warnings: { type: 'array', items: { type: 'string' },
      description: 'Advice on its settings (e.g. a playlist too long for players)' } } };
  const node = { type: 'object', required: ['id', 'role', 'state', 'address', 'capacity', 'lastHeartbeat'], properties: {
    id: NAME_SCHEMA, role: { enum: [...ROLES] },
    state: { enum: [...NODE_STATES] }, address: { type: 'string' },
    capacity: { type: 'integer' }, assigned: { type: 'integer' }, lastHeartbeat: { type: 'integer', description: 'Unix ms' },
    since: { type: 'integer', description: 'Unix ms' }, metrics: { type: ['object', 'null'] } } };
  const recording = { type: 'object', required: ['app', 'stream', 'kind', 'endedAt', 'bytes', 'retentionHours', 'expiresAt'], properties: {
    app: NAME_SCHEMA, stream: { type: 'string', pattern: STREAM_DIR_PATTERN, description: 'The stream, or an archived version '
      + '(<stream>.<N>)' }, kind: { enum: ['event', 'window', 'version'] }, version: { type: 'integer' },
    endedAt: { type: ['string', 'null'] },
    bytes: { type: ['integer', 'null'] }, retentionHours: { type: 'number' }, expiresAt: { type: ['string', 'null'] } } };
  const paths: Record<string, object> = {};
  for (const [p, ops] of Object.entries(ROUTES)) {
    paths[p] = Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, {
      summary: op.summary,
      security: op.security === 'none' ? [] : [{ [op.security]: [] }],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(op.body) } } } } : {}),
      responses: {
        [String(op.ok)]: { description: 'OK', ...(op.returns ? { content: { 'application/json': { schema: op.returns } } } : {}) },
        ...Object.fromEntries((op.alsoOk ?? []).map((code) => [String(code), { description: STATUS_TEXT[code] ?? 'OK',
          ...(op.returns ? { content: { 'application/json': { schema: op.returns } } } : {}) }])),
        default: { description: 'Error', content: { 'application/json': { schema: ref('Error') } } },
      },
    }]));
  }
  return {
    openapi: '3.1.0',
    info: { title: 'DVR controller', version: '1', description: 'Also served by the controller, outside /api/v1: GET /metrics '
      + '(Prometheus, admin token) and /dashboard/ (static pages that read this API with the admin token).' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { admin: { type: 'http', scheme: 'bearer' }, agent: { type: 'http', scheme: 'bearer' } },
      schemas: { LaunchConfig: component(launchConfig), StreamCreate: component(streamSchema), StreamUpdate: component(streamPatchSchema),
        StreamDefaults: component(streamDefaultsSchema), Heartbeat: component(heartbeatSchema), ScaleRequest: component(scaleRequestSchema),
        Stream: stream, Node: node, Error: error, Recording: recording },
    },
    paths,
  };
}
