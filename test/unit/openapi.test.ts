import assert from 'node:assert/strict';
import { createApi } from '../../controller/api.js';
import { heartbeatSchema } from '../../controller/heartbeat-schema.js';
import { openApiDocument, ROUTES } from '../../controller/openapi.js';
import { scaleRequestSchema } from '../../controller/scaling.js';
import { streamPatchSchema, streamSchema } from '../../controller/streams.js';
import { silentLogger } from '../../common/log.js';

describe('OpenAPI document', () => {
  const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, {
    requestBody?: { content: { 'application/json': { schema: { $ref: string } } } } }>>;
  components: { schemas: Record<string, Record<string, unknown>> } };

  it('describes exactly the routes the API serves under /api/v1, and no path outside it', () => {
    const app = createApi({ store: {} as never, scaler: {} as never, log: silentLogger(), adminToken: 'a', agentToken: 'b',
      signingSecret: 'c'.repeat(16), originRtmpPort: 1935, edgeHttpPort: 8080, endGraceSeconds: 30, playbackTtlSeconds: 60,
      quietAfterMs: 5000, now: Date.now });
    const served = new Set<string>();
    for (const layer of (app as unknown as
      { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack) {
      if (!layer.route?.path.startsWith('/api/v1/')) continue;
      const p = layer.route.path.replace('/api/v1', '').replace(/:(\w+)/g, '{$1}');
      for (const m of Object.keys(layer.route.methods)) served.add(`${m} ${p}`);
    }
    const documented = new Set(Object.entries(ROUTES).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    assert.deepEqual([...served].sort(), [...documented].sort());
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths).filter((p) => p.includes('..')), [], 'no /../ paths');
  });

  it('its request bodies are the schemas the API validates with', () => {
    const body = (p: string, m: string): Record<string, unknown> | undefined => {
      const r = doc.paths[p]?.[m]?.requestBody?.content['application/json'].schema.$ref.replace('#/components/schemas/', '');
      return r ? doc.components.schemas[r] : undefined;
    };
    const without$id = (s: object): object => Object.fromEntries(Object.entries(s).filter(([k]) => k !== '$id'));
    assert.deepEqual(body('/streams', 'post'), without$id(streamSchema));
    assert.deepEqual(body('/streams/{app}/{stream}', 'patch'), without$id(streamPatchSchema));
    assert.deepEqual(body('/nodes/{id}/heartbeat', 'post'), without$id(heartbeatSchema));
    assert.deepEqual(body('/scale', 'post'), without$id(scaleRequestSchema));
    assert.equal(body('/launch-configs', 'post')?.['title'] !== undefined || body('/launch-configs', 'post')?.['type'] === 'object', true);
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        const r = op.requestBody?.content['application/json'].schema.$ref;
        if (r) assert.ok(doc.components.schemas[r.replace('#/components/schemas/', '')], `${m} ${p}: ${r} is defined`);
      }
    }
  });
});
