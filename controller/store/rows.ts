// Rows as both engines return them (snake_case columns, JSON kept as text) and the shapes the
// services take. Pure.
import type { Role } from '../launch-config.js';
import type { NodeMetrics, NodeRow, NodeState, StreamOptions, StreamRow, VersionRow } from '../store.js';

export interface RawNode { id: string; role: Role; state: NodeState; address: string; capacity: number; last_heartbeat: number;
  metrics: string;  since: number; assigned: number }
export interface RawStream { app: string; stream: string; settings: string; stream_key: string; status: StreamRow['status'];
  transcoder: string | null; ending_since: number | null; origin: string | null; epoch: number; ended_at: number | null;
  stored_bytes: number | null; media_deleted_at: number | null; purge_requested_at: number | null }
export interface RawVersion { app: string; stream: string; version: number; ended_at: number; stored_bytes: number | null;
  media_deleted_at: number | null }

export const node = (r: RawNode): NodeRow => ({ id: r.id, role: r.role, state: r.state, address: r.address, capacity: r.capacity,
  lastHeartbeat: r.last_heartbeat, metrics: JSON.parse(r.metrics) as NodeMetrics | null, since: r.since, assigned: r.assigned });
export const stream = (r: RawStream): StreamRow => ({ app: r.app, stream: r.stream, settings: JSON.parse(r.settings) as StreamOptions,
  streamKey: r.stream_key, status: r.status, transcoder: r.transcoder ?? undefined, endingSince: r.ending_since ?? undefined,
  origin: r.origin ?? undefined, epoch: r.epoch, endedAt: r.ended_at ?? undefined, storedBytes: r.stored_bytes ?? undefined,
  mediaDeletedAt: r.media_deleted_at ?? undefined, purgeRequestedAt: r.purge_requested_at ?? undefined });
export const version = (r: RawVersion): VersionRow => ({ app: r.app, stream: r.stream, version: r.version, endedAt: r.ended_at,
  storedBytes: r.stored_bytes ?? undefined, mediaDeletedAt: r.media_deleted_at ?? undefined });
