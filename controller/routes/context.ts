// What the route groups share: the store, the services, the two token checks, and the request's
// parameters. The routes are thin: each reads its request, calls a service and answers.
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../../common/log.js';
import type { Heartbeats } from '../heartbeats.js';
import type { ControllerMetrics } from '../metrics.js';
import type { Playback } from '../playback.js';
import type { Publishing } from '../publishing.js';
import type { Retention } from '../retention.js';
import type { Scaler } from '../scaler.js';
import type { StateStore } from '../store.js';
import type { StreamDefaults } from '../streams.js';

export type Middleware = (req: Request, res: Response, next: NextFunction) => void;

export interface ApiContext {
  store: StateStore;
  log: Logger;
  heartbeats: Heartbeats;
  publishing: Publishing;
  playback: Playback;
  retention: Retention;
  scaler: Scaler;
  metrics: ControllerMetrics;
  /** The cluster's defaults for new streams. */
  defaults: Readonly<StreamDefaults>;
  /** Admin endpoints: the admin token. */
  admin: Middleware;
  /** Agents' endpoints and the origins' callbacks: the agent token. */
  agent: Middleware;
  /** Whether this controller leads the cluster (always, alone). */
  leads: () => boolean;
}

/** A path parameter, as a string. */
export const param = (req: Request, name: string): string => String(req.params[name] ?? '');
