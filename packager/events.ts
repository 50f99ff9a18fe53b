// The packager's typed events: tests, metrics and the agent subscribe; nothing calls back in.
import { EventEmitter } from 'node:events';

export interface StreamRef { app: string; stream: string; rendition?: string }

export interface PackagerEvents {
  /** The encoder finished a file in incoming/ (the spool); it is listed once storage takes it. */
  arrived: [StreamRef & { rendition: string; file: string }];
  /** A segment is listed: the playlist on disk names it. */
  listed: [StreamRef & { rendition: string; seq: number; file: string; durationSec: number; latencyMs: number }];
  /** A segment failed its integrity check and was not listed. */
  rejected: [StreamRef & { rendition: string; file: string; reason: string }];
  /** Segments left the disk: by the window (late, RFC 8216 6.2.2) or by the storage cap. */
  purged: [StreamRef & { rendition: string; count: number; bytes: number; reason: 'window' | 'cap' }];
  ended: [StreamRef];
  /** The event started again on an ended stream; the archive strategy was applied. */
  republished: [StreamRef & { strategy: string; version?: number }];
  /** Another writer holds a newer assignment of the stream (it moved): this one stopped writing it. */
  fenced: [StreamRef & { by: string; epoch: number; mine: number }];
  /** Something the sysadmin must fix (output directory, disk); the packager keeps running. */
  problem: [StreamRef & { code: string; message: string }];
}

export class PackagerEmitter extends EventEmitter<PackagerEvents> {}
