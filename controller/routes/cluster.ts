// The cluster's routes: launch configs, nodes (their heartbeats too), scaling.
import type express from 'express';
import { DvrError } from '../../common/errors.js';
import { compile, validateOrThrow } from '../../common/schema.js';
import { parseLaunchConfig, type Role } from '../launch-config.js';
import { nextState } from '../node-states.js';
import { scaleRequestSchema } from '../scaling.js';
import { param, type ApiContext } from './context.js';

const validateScale = compile<{ role: Role; count: number }>(scaleRequestSchema);

export function launchConfigRoutes(app: express.Express, c: ApiContext): void {
  const { store, admin } = c;
  app.get('/api/v1/launch-configs', admin, async (_req, res) => { res.json((await store.launchConfigs()).map((x) => x.body)); });
  app.post('/api/v1/launch-configs', admin, async (req, res) => {
    const config = parseLaunchConfig(req.body);
    if (!await store.putLaunchConfig(config.launchconfig.name, config)) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: $.launchconfig.name: '${config.launchconfig.name}' is taken; `
        + 'delete it first or use another name');
    }
    res.status(201).json(config);
  });
  app.get('/api/v1/launch-configs/:name', admin, async (req, res) => {
    const found = (await store.launchConfigs()).find((x) => x.name === param(req, 'name'));
    if (!found) throw new DvrError('DVR_ERR_NOT_FOUND', `no launch config '${param(req, 'name')}'`);
    res.json(found.body);
  });
  // As Red5's stream manager updates one: the whole config, under its name; applied with the next heartbeats.
  app.put('/api/v1/launch-configs/:name', admin, async (req, res) => {
    const config = parseLaunchConfig(req.body);
    if (config.launchconfig.name !== param(req, 'name')) {
      throw new DvrError('DVR_ERR_BAD_REQUEST', `invalid launch config: $.launchconfig.name: '${config.launchconfig.name}' `
        + `is not the name in the path ('${param(req, 'name')}')`);
    }
    const created = await store.replaceLaunchConfig(config.launchconfig.name, config);
    c.log.info({ launchConfig: config.launchconfig.name, created }, created ? 'launch config stored' : 'launch config replaced');
    res.status(created ? 201 : 200).json(config);
  });
  app.delete('/api/v1/launch-configs/:name', admin, async (req, res) => {
    if (!await store.deleteLaunchConfig(param(req, 'name'))) {
      throw new DvrError('DVR_ERR_NOT_FOUND', `no launch config '${param(req, 'name')}'`);
    }
    res.status(204).end();
  });
}

export function nodeRoutes(app: express.Express, c: ApiContext): void {
  const { store, admin } = c;
  app.get('/api/v1/nodes', admin, async (req, res) => {
    const role = typeof req.query['role'] === 'string' ? req.query['role'] : undefined;
    const state = typeof req.query['state'] === 'string' ? req.query['state'] : undefined;
    res.json(await store.nodes({ ...(role ? { role } : {}), ...(state ? { state } : {}) }));
  });
  app.post('/api/v1/nodes/:id/drain', admin, async (req, res) => {
    const n = await store.node(param(req, 'id'));
    if (!n) throw new DvrError('DVR_ERR_NOT_FOUND', `no node '${param(req, 'id')}'`);
    const state = nextState(n.state, 'drain');
    if (!state) throw new DvrError('DVR_ERR_CONFLICT', `node '${n.id}' is ${n.state}: it cannot drain`);
    await store.setNodeState(n.id, state);
    c.log.info({ node: n.id }, 'node draining: no new streams');
    res.json({ ...n, state });
  });
  app.post('/api/v1/nodes/:id/heartbeat', c.agent, async (req, res) => {
    res.json(await c.heartbeats.accept(param(req, 'id'), req.body, req.socket.remoteAddress));
  });
  // Scaling: manual actions and the audit trail of every action
  app.get('/api/v1/scale', admin, async (_req, res) => { res.json({ events: await store.scaleEvents() }); });
  app.post('/api/v1/scale', admin, async (req, res) => {
    const body = validateOrThrow(validateScale, req.body, 'scale request');
    res.json({ nodes: await c.scaler.scale(body.role, body.count, 'manual') });
  });
}
