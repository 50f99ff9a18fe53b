import assert from 'node:assert/strict';
import { deadNodes, leastLoaded, stuckProvisioning } from '../../controller/allocation.js';
import type { NodeRow } from '../../controller/store.js';

const node = (id: string, over: Partial<NodeRow> = {}): NodeRow => ({ id, role: 'transcoder', state: 'inservice', address: '10.0.0.1',
  capacity: 4, lastHeartbeat: 0, metrics: null, since: 0, ...over });
const ids = (nodes: NodeRow[]): string[] => nodes.map((n) => n.id);

describe('allocation: least-loaded node', () => {
  it('picks the lowest connections / capacity, not the fewest connections', () => {
    const nodes = [node('small', { capacity: 2 }), node('big', { capacity: 10 })];
    const used = new Map([['small', 1], ['big', 4]]);
    const best = leastLoaded(nodes, 'transcoder', used);
    assert.equal(best?.node.id, 'big', '4 of 10 is less loaded than 1 of 2');
    assert.equal(best?.load, 0.4);
  });

  it('counts a node missing from the connection map as idle', () => {
    const best = leastLoaded([node('a'), node('b')], 'transcoder', new Map([['a', 1]]));
    assert.equal(best?.node.id, 'b');
    assert.equal(best?.load, 0);
  });

  it('breaks ties by node id, whatever the order the nodes come in', () => {
    const used = new Map([['n2', 2], ['n1', 2], ['n3', 2]]);
    for (const order of [['n3', 'n1', 'n2'], ['n1', 'n2', 'n3'], ['n2', 'n3', 'n1']]) {
      assert.equal(leastLoaded(order.map((i) => node(i)), 'transcoder', used)?.node.id, 'n1', `order ${order.join(',')}`);
    }
    // Equal load at different capacities is still a tie.
    const mixed = [node('z', { capacity: 8 }), node('y', { capacity: 4 })];
    assert.equal(leastLoaded(mixed, 'transcoder', new Map([['z', 4], ['y', 2]]))?.node.id, 'y');
  });

  it('skips full nodes, and answers undefined when every node is full', () => {
    const nodes = [node('full'), node('over', { capacity: 2 }), node('room')];
    const used = new Map([['full', 4], ['over', 5], ['room', 3]]);
    assert.equal(leastLoaded(nodes, 'transcoder', used)?.node.id, 'room');
    used.set('room', 4);
    assert.equal(leastLoaded(nodes, 'transcoder', used), undefined, 'no node has a free slot');
  });

  it('never picks a node that is not in service', () => {
    const states: NodeRow['state'][] = ['provisioning', 'registering', 'draining', 'gone', 'failed'];
    const nodes = states.map((s) => node(`a-${s}`, { state: s }));
    assert.equal(leastLoaded(nodes, 'transcoder', new Map()), undefined, 'only in-service nodes take work');
    const withOne = [...nodes, node('z-inservice')];
    assert.equal(leastLoaded(withOne, 'transcoder', new Map([['z-inservice', 3]]))?.node.id, 'z-inservice');
  });

  it('looks only at nodes of the asked role', () => {
    const nodes = [node('edge1', { role: 'edge' }), node('origin1', { role: 'origin' }), node('t1', { capacity: 1 })];
    assert.equal(leastLoaded(nodes, 'transcoder', new Map([['t1', 0]]))?.node.id, 't1');
    assert.equal(leastLoaded(nodes, 'edge', new Map())?.node.id, 'edge1');
    assert.equal(leastLoaded(nodes, 'relay', new Map()), undefined);
  });

  it('leaves out excluded nodes (the dead node a stream moves off)', () => {
    const nodes = [node('a'), node('b'), node('c')];
    const used = new Map([['a', 0], ['b', 1], ['c', 2]]);
    assert.equal(leastLoaded(nodes, 'transcoder', used, new Set(['a']))?.node.id, 'b');
    assert.equal(leastLoaded(nodes, 'transcoder', used, new Set(['a', 'b']))?.node.id, 'c');
    assert.equal(leastLoaded(nodes, 'transcoder', used, new Set(['a', 'b', 'c'])), undefined);
  });

  it('never picks a node that declared no capacity (zero or negative), even when idle', () => {
    const nodes = [node('zero', { capacity: 0 }), node('neg', { capacity: -1 })];
    assert.equal(leastLoaded(nodes, 'transcoder', new Map()), undefined);
    assert.equal(leastLoaded([...nodes, node('one', { capacity: 1 })], 'transcoder', new Map())?.node.id, 'one');
  });

  it('keeps the caller\'s node type (the candidate is the node it was given)', () => {
    const loads = [{ id: 'x', role: 'transcoder' as const, state: 'inservice' as const, capacity: 2, used: 1 }];
    const best = leastLoaded(loads, 'transcoder', new Map([['x', 1]]));
    assert.equal(best?.node, loads[0]);
    assert.equal(best?.node.used, 1);
  });
});

describe('allocation: dead and stuck nodes', () => {
  const DEAD_AFTER = 8_000;

  it('a node is dead once silent for longer than the limit, not at the limit', () => {
    const nodes = [node('fresh', { lastHeartbeat: 99_000 }), node('edge', { lastHeartbeat: 92_000 }),
      node('gone', { lastHeartbeat: 91_999 })];
    assert.deepEqual(ids(deadNodes(nodes, 100_000, DEAD_AFTER)), ['gone']);
  });

  it('only nodes that run or may run work can die; provisioning, failed and gone ones cannot', () => {
    const states: NodeRow['state'][] = ['provisioning', 'registering', 'inservice', 'draining', 'gone', 'failed'];
    const nodes = states.map((s) => node(s, { state: s, lastHeartbeat: 0 }));
    assert.deepEqual(ids(deadNodes(nodes, 100_000, DEAD_AFTER)), ['registering', 'inservice', 'draining']);
  });

  it('counts silence from the controller\'s start: a restarted controller fails nobody at once', () => {
    const startedAt = 1_000_000;
    // Last heard an hour before the controller came back up.
    const nodes = [node('a', { lastHeartbeat: startedAt - 3_600_000 }), node('b', { lastHeartbeat: startedAt - 10 })];
    assert.deepEqual(ids(deadNodes(nodes, startedAt + 1_000, DEAD_AFTER, startedAt)), [], 'one second after a restart');
    assert.deepEqual(ids(deadNodes(nodes, startedAt + DEAD_AFTER, DEAD_AFTER, startedAt)), [], 'exactly the limit after it');
    assert.deepEqual(ids(deadNodes(nodes, startedAt + DEAD_AFTER + 1, DEAD_AFTER, startedAt)).sort(), ['a', 'b'],
      'still silent the whole limit after the restart');
    // Without `since`, the same nodes would all be dead at once.
    assert.deepEqual(ids(deadNodes(nodes, startedAt + 1_000, DEAD_AFTER)), ['a']);
  });

  it('a heartbeat after the controller\'s start counts from the heartbeat', () => {
    const startedAt = 1_000_000;
    const nodes = [node('late', { lastHeartbeat: startedAt + 5_000 })];
    assert.deepEqual(ids(deadNodes(nodes, startedAt + 5_000 + DEAD_AFTER, DEAD_AFTER, startedAt)), []);
    assert.deepEqual(ids(deadNodes(nodes, startedAt + 5_001 + DEAD_AFTER, DEAD_AFTER, startedAt)), ['late']);
  });

  it('a provisioned node that never joined within the timeout is stuck; other states never are', () => {
    const timeout = 60_000;
    const nodes = [
      node('new', { state: 'provisioning', lastHeartbeat: 50_000 }),
      node('old', { state: 'provisioning', lastHeartbeat: 39_999 }),
      node('at-limit', { state: 'provisioning', lastHeartbeat: 40_000 }),
      node('joined', { state: 'registering', lastHeartbeat: 0 }),
      node('serving', { state: 'inservice', lastHeartbeat: 0 }),
    ];
    assert.deepEqual(ids(stuckProvisioning(nodes, 100_000, timeout)), ['old']);
    assert.deepEqual(ids(stuckProvisioning([], 100_000, timeout)), []);
  });

  it('counts a provisioning timeout from the controller\'s start: a restart after a long outage fails no node at once', () => {
    const timeout = 60_000;
    const startedAt = 1_000_000;
    // Created (lastHeartbeat = creation) before an outage longer than the timeout.
    const nodes = [node('before', { state: 'provisioning', lastHeartbeat: startedAt - 3_600_000 }),
      node('after', { state: 'provisioning', lastHeartbeat: startedAt + 5_000 })];
    assert.deepEqual(ids(stuckProvisioning(nodes, startedAt + 1_000, timeout, startedAt)), [], 'first sweep after the restart');
    assert.deepEqual(ids(stuckProvisioning(nodes, startedAt + timeout, timeout, startedAt)), [], 'exactly the timeout after it');
    assert.deepEqual(ids(stuckProvisioning(nodes, startedAt + timeout + 1, timeout, startedAt)), ['before'],
      'still not joined the whole timeout after the restart');
    assert.deepEqual(ids(stuckProvisioning(nodes, startedAt + 5_001 + timeout, timeout, startedAt)).sort(), ['after', 'before'],
      'a node created after the restart counts from its creation');
  });
});
