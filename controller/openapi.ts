// The OpenAPI document of /api/v1, served at /api/v1/openapi.json. A test checks that every
// route the API serves is described here and nothing else.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LAUNCH_CONFIG_DIR } from './launch-config.js';

type Op = { summary: string; security: 'admin' | 'agent' | 'none'; body?: object; ok: number };

const error = { type: 'object', required: ['statusCode', 'code', 'message'],
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, message: { type: 'string' } } };

export const ROUTES: Record<string, Partial<Record<'get' | 'post' | 'put' | 'delete', Op>>> = {
  '/health': { get: { summary: 'Liveness and counts', security: 'none', ok: 200 } },
  '/openapi.json': { get: { summary: 'This document', security: 'none', ok: 200 } },
  '/../metrics': { get: { summary: 'Prometheus metrics (at /metrics, outside /api/v1)', security: 'admin', ok: 200 } },
  '/../dashboard': {
    get: { summary: 'The dashboard (at /dashboard/, outside /api/v1; it reads this API with the admin token)', security: 'none', ok: 301 },
  },
  '/launch-configs': {
    get: { summary: 'List launch configs', security: 'admin', ok: 200 },
    post: { summary: 'Add a launch config', security: 'admin', ok: 201, body: { $ref: '#/components/schemas/LaunchConfig' } },
  },
  '/launch-configs/{name}': {
    get: { summary: 'One launch config', security: 'admin', ok: 200 },
    put: { summary: 'Add or replace a launch config (201 added, 200 replaced); the name in the body is the one in the path',
      security: 'admin', ok: 200, body: { $ref: '#/components/schemas/LaunchConfig' } },
    delete: { summary: 'Remove a launch config', security: 'admin', ok: 204 },
  },
  '/nodes': { get: { summary: 'Nodes, filtered by ?role= and ?state=', security: 'admin', ok: 200 } },
  '/nodes/{id}/drain': { post: { summary: 'Stop giving a node new streams', security: 'admin', ok: 200 } },
  '/nodes/{id}/heartbeat': {
    post: { summary: 'A node reports; the reply lists its jobs', security: 'agent', ok: 200, body: { type: 'object' } },
  },
  '/streams': {
    get: { summary: 'List streams', security: 'admin', ok: 200 },
    post: { summary: 'Create a stream with its DVR settings; returns the stream key', security: 'admin', ok: 201,
      body: { type: 'object' } },
  },
  '/streams/{app}/{stream}': {
    get: { summary: 'One stream', security: 'admin', ok: 200 },
    delete: { summary: 'Delete a stream', security: 'admin', ok: 204 },
  },
  '/streams/{app}/{stream}/publish': { get: { summary: 'Origin ingest URL with the stream key', security: 'admin', ok: 200 } },
  '/streams/{app}/{stream}/playback': {
    get: { summary: 'Playback URL on the least-loaded edge (signed when required)', security: 'admin', ok: 200 },
  },
  '/scale': {
    get: { summary: 'Scale actions, newest first', security: 'admin', ok: 200 },
    post: { summary: 'Scale a role by hand: { role, count }', security: 'admin', ok: 200, body: { type: 'object' } },
  },
  '/hooks/publish': { post: { summary: 'Origin on_publish: stream key check and transcoder allocation', security: 'agent', ok: 200 } },
  '/hooks/publish-done': { post: { summary: 'Origin on_publish_done', security: 'agent', ok: 200 } },
};

export function openApiDocument(): object {
  const launchConfig = JSON.parse(readFileSync(path.join(LAUNCH_CONFIG_DIR, 'launch-config.schema.json'), 'utf8')) as
    Record<string, unknown>;
  delete launchConfig['$schema'];
  delete launchConfig['$id'];
  const paths: Record<string, object> = {};
  for (const [p, ops] of Object.entries(ROUTES)) {
    paths[p] = Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, {
      summary: op.summary,
      security: op.security === 'none' ? [] : [{ [op.security]: [] }],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: op.body } } } } : {}),
      responses: {
        [String(op.ok)]: { description: 'OK' }, default: { description: 'Error', content: { 'application/json': { schema: error } } },
      },
    }]));
  }
  return {
    openapi: '3.0.3',
    info: { title: 'DVR controller', version: '1' },
    servers: [{ url: '/api/v1' }],
    components: {
      securitySchemes: { admin: { type: 'http', scheme: 'bearer' }, agent: { type: 'http', scheme: 'bearer' } },
      schemas: { LaunchConfig: launchConfig },
    },
    paths,
  };
}
