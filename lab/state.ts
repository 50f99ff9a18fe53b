// What a running lab is made of, kept in <lab dir>/lab.json so that `status`, `fault` and `down`
// (other processes, perhaps after a crash) find every namespace, mount and process it made.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../common/errors.js';
import type { HostNetRecord } from './hosts.js';

export interface LabOptions {
  /** Prefix of the lab's namespaces, bridge and links (at most 13 characters). */
  name: string;
  dir: string;
  /** A /24 for the lab's hosts: this machine is .1. */
  subnet: string;
}

export interface LabFaults {
  /** Hosts whose link is down. */
  cut: string[];
  /** Hosts that cannot reach the controller. */
  cutController: string[];
  /** Hosts whose agent or nginx was killed: heal provisions them again. */
  killed: string[];
  storageStopped: boolean;
  storageFilled: boolean;
  /** Controllers killed (kill-controller takes the leader): start-controller starts them again. */
  controllersKilled: string[];
}

export interface LabState {
  version: 1;
  options: LabOptions;
  net: HostNetRecord;
  /** How the nodes mount the storage. */
  transport: 'nfs' | 'sshfs';
  /** The storage export is a tmpfs the lab mounted (so `fill-storage` cannot fill this machine's disk). */
  exportMount: string;
  /** The controller the API line names (the first). */
  controller: { pid: number; url: string };
  /** Every controller, by host. */
  controllers: Array<{ name: string; pid: number; url: string }>;
  /** The controllers' PostgreSQL (its URL carries the password: this file is 0600). */
  database: { url: string };
  publisher: { pid: number };
  lines: Record<'api' | 'dashboard' | 'publish' | 'playback' | 'player' | 'adminToken' | 'inventory', string> & { dash?: string };
  faults: LabFaults;
}

export const NO_FAULTS: LabFaults = { cut: [], cutController: [], killed: [], storageStopped: false, storageFilled: false,
  controllersKilled: [] };

export function stateFile(dir: string): string {
  return path.join(dir, 'lab.json');
}

export async function readState(dir: string): Promise<LabState | undefined> {
  try {
    const s = JSON.parse(await fs.readFile(stateFile(dir), 'utf8')) as LabState;
    // A lab made by a release with one controller: its fields, as that release had them.
    return { ...s, controllers: s.controllers ?? [{ name: 'controller', ...s.controller }], database: s.database ?? { url: '' },
      faults: { ...NO_FAULTS, ...s.faults } };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

export async function writeState(s: LabState): Promise<void> {
  const file = stateFile(s.options.dir);
  await fs.writeFile(`${file}.tmp`, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(`${file}.tmp`, file);
}
