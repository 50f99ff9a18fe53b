import assert from 'node:assert/strict';
import { decide, type RoleState } from '../../controller/scaling.js';
import { deadNodes, leastLoaded, stuckProvisioning } from '../../controller/allocation.js';
import type { NodeRow } from '../../controller/store.js';

const policy = { min: 2, max: 10, increment: 2, scaleOutAbovePercent: 80, scaleInBelowPercent: 20, warmUpSeconds: 120,
  coolDownSeconds: 300 };
const HOUR = 3_600_000;
const nodes = (n: number, since = 0): RoleState['nodes'] => Array.from({ length: n }, (_v, i) => ({ id: `e${i}`, since }));

describe('scaling decisions', () => {
  it('keeps the role between min and max', () => {
    assert.deepEqual(decide(policy, { nodes: nodes(1), pending: 0, capacityPerNode: 100, connections: 0, lastActionAt: 0 }, HOUR),
      { action: 'out', count: 1, reason: 'below min 2', loadPercent: 0 });
    assert.equal(decide(policy, { nodes: nodes(12), pending: 0, capacityPerNode: 100, connections: 0,
      lastActionAt: 0 }, HOUR).action, 'in');
  });

  it('scales out by the increment above the threshold, never past max', () => {
    const d = decide(policy, { nodes: nodes(4), pending: 0, capacityPerNode: 100, connections: 350, lastActionAt: 0 }, HOUR);
    assert.equal(d.action, 'out');
    assert.equal(d.action === 'out' ? d.count : 0, 2);
    const atMax = decide(policy, { nodes: nodes(9), pending: 0, capacityPerNode: 100, connections: 850, lastActionAt: 0 }, HOUR);
    assert.equal(atMax.action === 'out' ? atMax.count : 0, 1);
  });

  it('waits for warming nodes and for the cool-down: no flapping', () => {
    const warming = decide(policy, { nodes: [...nodes(4), { id: 'new', since: HOUR - 10_000 }], pending: 0, capacityPerNode: 100,
      connections: 390, lastActionAt: 0 }, HOUR);
    assert.deepEqual([warming.action, warming.reason], ['none', '1 node(s) warming up']);
    const cooling = decide(policy, { nodes: nodes(4), pending: 0, capacityPerNode: 100, connections: 390,
      lastActionAt: HOUR - 60_000 }, HOUR);
    assert.deepEqual([cooling.action, cooling.reason], ['none', 'cooling down']);
  });

  it('scales in when idle, but not if the remaining nodes would be over the scale-out threshold', () => {
    assert.equal(decide(policy, { nodes: nodes(6), pending: 0, capacityPerNode: 100, connections: 50,
      lastActionAt: 0 }, HOUR).action, 'in');
    const tight = { ...policy, scaleInBelowPercent: 50, scaleOutAbovePercent: 55 };
    assert.equal(decide(tight, { nodes: nodes(4), pending: 0, capacityPerNode: 100, connections: 190,
      lastActionAt: 0 }, HOUR).action, 'none');
  });

  it('a load oscillating around one threshold produces one action per cool-down at most', () => {
    let lastActionAt = 0;
    let count = 6;
    let actions = 0;
    for (let t = HOUR; t < HOUR + 30 * 60_000; t += 10_000) {
      const connections = 480 + (t / 10_000 % 2 === 0 ? 40 : -40); // 73 %..87 % of 6 nodes
      const d = decide(policy, { nodes: nodes(count), pending: 0, capacityPerNode: 100, connections, lastActionAt }, t);
      if (d.action !== 'none') {
        actions++;
        lastActionAt = t;
        count += d.action === 'out' ? d.count : -d.count;
      }
    }
    assert.ok(actions <= 6, `${actions} actions in 30 min with a 5 min cool-down`);
    assert.ok(count >= 6, 'never scaled in under that load');
  });
});

describe('allocation', () => {
  const n = (id: string, over: Partial<NodeRow> = {}): NodeRow => ({ id, role: 'transcoder', state: 'inservice', address: '10.0.0.1',
    capacity: 4, lastHeartbeat: 0, metrics: null, since: 0, ...over });

  it('picks the least-loaded in-service node by load / capacity, never a full, draining or excluded one', () => {
    const nodes = [n('a'), n('b', { capacity: 8 }), n('c', { state: 'draining' }), n('d')];
    const used = new Map([['a', 2], ['b', 3], ['c', 0], ['d', 4]]);
    assert.equal(leastLoaded(nodes, 'transcoder', used)?.node.id, 'b');
    assert.equal(leastLoaded(nodes, 'transcoder', used, new Set(['b']))?.node.id, 'a');
    assert.equal(leastLoaded([n('x')], 'transcoder', new Map([['x', 4]])), undefined, 'full');
  });

  it('finds silent nodes and provisioned nodes that never joined', () => {
    const nodes = [n('ok', { lastHeartbeat: 95_000 }), n('silent', { lastHeartbeat: 70_000 }),
      n('new', { state: 'provisioning', lastHeartbeat: 0 })];
    assert.deepEqual(deadNodes(nodes, 100_000, 18_000).map((x) => x.id), ['silent']);
    assert.deepEqual(stuckProvisioning(nodes, 100_000, 60_000).map((x) => x.id), ['new']);
  });
});
