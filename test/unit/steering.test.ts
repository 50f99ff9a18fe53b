// Content steering's manifest as an edge answers it: the player's own edge first while it is in
// service, the others cloned from the player's pathway, the next request sent where the player
// would go.
import assert from 'node:assert/strict';
import { backupOf, currentPathway, steeringManifest, validSteeringEdges } from '../../agent/roles/steering.js';
import { renderStreamMaps } from '../../nginx/render.js';
import type { SteeringEdge } from '../../common/protocol.js';

const EDGES: SteeringEdge[] = [
  { id: 'edge-2', url: 'http://10.0.0.3:8080', connections: 1 },
  { id: 'edge-1', url: 'http://10.0.0.2:8080', connections: 9 },
  { id: 'edge-3', url: 'http://[fd00::4]:8080', connections: 12 },
];

describe('content steering manifest', () => {
  it('names as the redundant variants\' edge the first other edge by name, with its port even where the scheme implies it', () => {
    assert.deepEqual(backupOf('edge-1', EDGES), { backup: { id: 'edge-2', host: '10.0.0.3:8080' } });
    const onDefaultPorts: SteeringEdge[] = [{ id: 'edge-1', url: 'http://10.0.0.2', connections: 0 },
      { id: 'edge-3', url: 'https://[fd00::4]', connections: 0 }, { id: 'edge-2', url: 'http://10.0.0.3:80', connections: 0 }];
    const b = backupOf('edge-1', onDefaultPorts);
    assert.deepEqual(b, { backup: { id: 'edge-2', host: '10.0.0.3:80' } });
    assert.deepEqual(backupOf('edge-2', onDefaultPorts), { backup: { id: 'edge-1', host: '10.0.0.2:80' } });
    assert.deepEqual(backupOf('edge-1', onDefaultPorts.filter((e) => e.id !== 'edge-2')),
      { backup: { id: 'edge-3', host: '[fd00::4]:443' } });
    assert.deepEqual(backupOf('edge-1', [EDGES[1] as SteeringEdge]), {}, 'alone: none');
    assert.match(renderStreamMaps({ signed: [], ended: [], pathway: 'edge-1', ...b }), /default "10\.0\.0\.3:80";/, 'the maps take it');
  });

  it('keeps a player on its edge while that is in service, clones the others from its pathway, asks next where it would go', () => {
    const m = steeringManifest('hls', EDGES, 'edge-2', 'edge-1');
    assert.deepEqual(m['PATHWAY-PRIORITY'], ['edge-1', 'edge-2', 'edge-3']);
    assert.deepEqual(m['PATHWAY-CLONES'], [
      { 'BASE-ID': 'edge-1', ID: 'edge-2', 'URI-REPLACEMENT': { HOST: '10.0.0.3' } },
      { 'BASE-ID': 'edge-1', ID: 'edge-3', 'URI-REPLACEMENT': { HOST: '[fd00::4]' } },
    ], 'hls.js replaces the host name and keeps the port');
    assert.equal(m['RELOAD-URI'], 'http://10.0.0.3:8080/_steering/hls.json', 'the next manifest comes from the fallback edge');
    assert.deepEqual([m.VERSION, m.TTL], [1, 4]);
  });

  it('moves a player off an edge that is out of service, to the least loaded; DASH clones name host and port', () => {
    const m = steeringManifest('dash', EDGES.filter((e) => e.id !== 'edge-1'), 'edge-2', 'edge-1');
    assert.deepEqual(m['PATHWAY-PRIORITY'], ['edge-2', 'edge-3'], 'the dead edge is not listed');
    assert.deepEqual(m['PATHWAY-CLONES'].map((c) => [c['BASE-ID'], c.ID, c['URI-REPLACEMENT'].HOST]),
      [['edge-1', 'edge-2', '10.0.0.3:8080'], ['edge-1', 'edge-3', '[fd00::4]:8080']]);
    assert.equal(m['RELOAD-URI'], 'http://[fd00::4]:8080/_steering/dash.json');
    const alone = steeringManifest('dash', [EDGES[0] as SteeringEdge], 'edge-2', undefined);
    assert.deepEqual([alone['PATHWAY-PRIORITY'], alone['PATHWAY-CLONES'], alone['RELOAD-URI']],
      [['edge-2'], [], 'http://10.0.0.3:8080/_steering/dash.json'], 'a player that does not say is on this edge');
    assert.deepEqual(steeringManifest('hls', [], 'edge-2', 'edge-1')['PATHWAY-PRIORITY'], ['edge-1'], 'no view: stay');
  });

  it('reads the pathway hls.js and dash.js say they are on; anything else is no pathway', () => {
    assert.equal(currentPathway('hls', new URLSearchParams('_HLS_pathway=edge-1&_HLS_throughput=123')), 'edge-1');
    assert.equal(currentPathway('dash', new URLSearchParams('_DASH_pathway=%22edge-1,edge-2%22&_DASH_throughput=5,6')), 'edge-2');
    assert.equal(currentPathway('dash', new URLSearchParams('_HLS_pathway=edge-1')), undefined);
    assert.equal(currentPathway('hls', new URLSearchParams('_HLS_pathway=../../etc')), undefined);
  });

  it('takes from a heartbeat reply only edges with a node name and a plain base URL', () => {
    assert.deepEqual(validSteeringEdges([...EDGES, { id: 'Bad Id', url: 'http://10.0.0.9:8080' },
      { id: 'edge-9', url: 'http://10.0.0.9:8080/x' }, { id: 'edge-8', url: 'javascript:alert(1)' }, null, 'edge-7']), EDGES);
    assert.deepEqual(validSteeringEdges({ edges: EDGES }), []);
  });
});
