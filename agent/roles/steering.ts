// Content steering on an edge: the steering manifest HLS players (RFC 8216bis section 7) and DASH
// players (DASH-IF Content Steering) fetch every TTL seconds. One pathway per edge: the master
// playlist and the MPD this edge serves name this edge's pathway (nginx adds it, see nginx/render.ts),
// and the manifest clones it for every other edge in service (the same paths on another host), in
// the order the players should use them: the player's own edge while it is in service, then the
// least loaded. A player whose edge dies moves to the next by that order, by itself (its requests
// fail) or when its next manifest leaves the dead edge out, and that manifest comes from the edge
// it would move to, so a dead edge does not leave its players without one. Pure, but for the
// latest view of the edges, which the controller's heartbeat replies bring.
import { STEERING_PATH } from '../../common/edge-paths.js';
import { isName } from '../../common/names.js';
import type { SteeringEdge } from '../../common/protocol.js';

export type SteeringKind = 'hls' | 'dash';

/** How often players ask again, seconds: about two heartbeats, so a dead edge is left within a few seconds. */
export const STEERING_TTL_SECONDS = 4;

interface PathwayClone { 'BASE-ID': string; ID: string; 'URI-REPLACEMENT': { HOST: string } }

export interface SteeringManifest {
  VERSION: 1;
  TTL: number;
  'RELOAD-URI'?: string;
  'PATHWAY-PRIORITY': string[];
  'PATHWAY-CLONES': PathwayClone[];
}

/**
 * The pathway a player says it is on: hls.js sends `_HLS_pathway=<id>`, dash.js
 * `_DASH_pathway="<id>,<id>"` (the locations it used since its last request, the current one last).
 */
export function currentPathway(kind: SteeringKind, query: URLSearchParams): string | undefined {
  const raw = query.get(kind === 'hls' ? '_HLS_pathway' : '_DASH_pathway');
  if (raw === null) return undefined;
  const last = raw.replace(/^"|"$/g, '').split(',').pop()?.trim() ?? '';
  return isName(last) ? last : undefined;
}

/** The edges a heartbeat reply names, those that make sense; the rest are left out. */
export function validSteeringEdges(raw: unknown): SteeringEdge[] {
  if (!Array.isArray(raw)) return [];
  return raw.filter((e): e is SteeringEdge => {
    const edge = e as Partial<SteeringEdge> | null;
    if (typeof edge?.id !== 'string' || !isName(edge.id) || typeof edge.url !== 'string') return false;
    try {
      const u = new URL(edge.url);
      return (u.protocol === 'http:' || u.protocol === 'https:') && u.pathname === '/' && u.search === '' && u.username === '';
    } catch {
      return false;
    }
  });
}

/**
 * The manifest for a player on `current` (undefined: it did not say; it is taken to be on this
 * edge, `self`). `edges`: the edges in service, least loaded first.
 */
export function steeringManifest(kind: SteeringKind, edges: readonly SteeringEdge[], self: string,
  current: string | undefined, ttlSeconds = STEERING_TTL_SECONDS): SteeringManifest {
  const base = current ?? self;
  const inService = edges.filter((e) => e.id === base).concat(edges.filter((e) => e.id !== base));
  const priority = inService.map((e) => e.id);
  // hls.js replaces the host name and keeps the port (every edge serves on the same one); dash.js
  // replaces host and port.
  const clones = inService.filter((e) => e.id !== base).map((e) => {
    const u = new URL(e.url);
    return { 'BASE-ID': base, ID: e.id, 'URI-REPLACEMENT': { HOST: kind === 'hls' ? u.hostname : u.host } };
  });
  // The next manifest comes from the edge the player would move to (its own when it is the only one).
  const reload = inService[1] ?? inService[0];
  return {
    VERSION: 1, TTL: ttlSeconds,
    ...(reload ? { 'RELOAD-URI': `${reload.url}${STEERING_PATH}${kind}.json` } : {}),
    'PATHWAY-PRIORITY': priority.length > 0 ? priority : [base],
    'PATHWAY-CLONES': clones,
  };
}

/**
 * The other edge the master playlists' redundant variants name: the first in service by name, so
 * that it changes (and nginx reloads) only when edges come or go, not as their loads move.
 */
export function backupOf(self: string, edges: SteeringEdge[]): { backup?: { id: string; host: string } } {
  const other = edges.filter((e) => e.id !== self).sort((a, b) => a.id.localeCompare(b.id))[0];
  if (!other) return {};
  // <host>:<port> always (URL.host leaves out a scheme's default port).
  const u = new URL(other.url);
  return { backup: { id: other.id, host: `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}` } };
}
