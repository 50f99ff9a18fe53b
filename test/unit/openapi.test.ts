import assert from 'node:assert/strict';
import { createApi } from '../../controller/api.js';
import { openApiDocument, ROUTES } from '../../controller/openapi.js';
import { silentLogger } from '../../common/log.js';

describe('OpenAPI document', () => {
  it('describes exactly the routes the API serves', () => {
    const app = createApi({ store: {} as never, scaler: {} as never, log: silentLogger(), adminToken: 'a', agentToken: 'b',
      signingSecret: 'c'.repeat(16), originRtmpPort: 1935, edgeHttpPort: 8080, endGraceSeconds: 30, playbackTtlSeconds: 60,
      quietAfterMs: 5000, now: Date.now });
    const served = new Set<string>();
    for (const layer of (app as unknown as
      { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack) {
      if (!layer.route) continue;
      for (const m of Object.keys(layer.route.methods)) served.add(`${m} ${layer.route.path.startsWith('/api/v1')
        ? layer.route.path.replace('/api/v1', '').replace(/:(\w+)/g, '{$1}') : `/..${layer.route.path}`}`);
    }
    const documented = new Set(Object.entries(ROUTES).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m} ${p}`)));
    assert.deepEqual([...served].sort(), [...documented].sort());
    const doc = openApiDocument() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.0.3');
    assert.ok(doc.paths['/launch-configs']);
  });
});
