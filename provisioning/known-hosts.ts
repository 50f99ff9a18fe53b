// Pinned SSH host keys, in OpenSSH's known_hosts format (`host keytype base64`, `[host]:port` for
// other ports) so sysadmins can read, edit and pre-seed the file. A host is trusted on first use
// only when the caller says so (--accept-new-host-keys); after that its key must match, and a
// changed key stops the run for that host.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DvrError } from '../common/errors.js';
import type { Inventory } from './inventory.js';

/**
 * The storage host's pinned key lines, for nodes that mount it with sshfs (they check its key as
 * provisioning does): `given` when set, else from the pinned file, else nothing.
 */
export function storageKnownHosts(inv: Inventory, known: KnownHosts, given?: string): { storageKnownHosts?: string } {
  const server = inv.hosts.find((h) => h.name === inv.storage.server);
  if (given !== undefined) return { storageKnownHosts: given };
  if (inv.storage.transport !== 'sshfs' || !server) return {};
  const lines = known.linesFor([hostId(server.address, server.sshPort ?? inv.ssh.port)]);
  return lines.length > 0 ? { storageKnownHosts: `${lines.join('\n')}\n` } : {};
}

export function hostId(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The key type named inside an SSH public key blob (e.g. ssh-ed25519). */
export function keyType(blob: Buffer): string {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  if (len === 0 || len > 64 || blob.length < 4 + len) throw new DvrError('DVR_ERR_BAD_REQUEST', 'not an SSH public key blob');
  return blob.subarray(4, 4 + len).toString('ascii');
}

export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type Verdict = { ok: true; added: boolean } | { ok: false; reason: string };

export class KnownHosts {
  private readonly keys = new Map<string, { type: string; key: string }[]>();
  private lines: string[] = [];
  /** Saves run one after another: hosts connect in parallel. */
  private saving: Promise<void> = Promise.resolve();
  private saveError: Error | undefined;

  private constructor(readonly file: string) {}

  static async open(file: string): Promise<KnownHosts> {
    const kh = new KnownHosts(file);
    let text = '';
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    kh.lines = text.split('\n').filter((l) => l.trim() !== '');
    kh.lines.forEach((line, i) => {
      if (line.startsWith('#')) return;
      const [hosts, type, key] = line.trim().split(/\s+/);
      if (!hosts || !type || !key || hosts.startsWith('|')) {
        throw new DvrError('DVR_ERR_CONFIG', `${file}:${i + 1}: not a 'host keytype key' line (hashed entries are not supported)`);
      }
      for (const h of hosts.split(',')) kh.keys.set(h, [...kh.keys.get(h) ?? [], { type, key }]);
    });
    return kh;
  }

  /** The pinned lines of these hosts, as they stand in the file. */
  linesFor(ids: readonly string[]): string[] {
    return this.lines.filter((l) => !l.startsWith('#') && (l.trim().split(/\s+/)[0] ?? '').split(',').some((h) => ids.includes(h)));
  }

  /** Key types pinned for a host, to ask the server for exactly those. */
  typesFor(id: string): string[] {
    return [...new Set((this.keys.get(id) ?? []).map((k) => k.type))];
  }

  verify(id: string, blob: Buffer, acceptNew: boolean): Verdict {
    const type = keyType(blob), key = blob.toString('base64');
    const known = this.keys.get(id);
    if (known?.some((k) => k.type === type && k.key === key)) return { ok: true, added: false };
    if (known) {
      return { ok: false, reason: `the host key of ${id} has changed (now ${type} ${fingerprint(blob)}; `
        + `${this.file} pins ${known.map((k) => k.type).join(', ')}). `
        + 'If the host was reinstalled, remove its line from that file and run again with --accept-new-host-keys; '
        + 'otherwise someone may be intercepting the connection' };
    }
    if (!acceptNew) {
      return { ok: false, reason: `${id} is not in ${this.file} (its key is ${type} ${fingerprint(blob)}): `
        + 'check the fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) '
        + 'and run again with --accept-new-host-keys, or add it to that file' };
    }
    this.keys.set(id, [{ type, key }]);
    this.lines.push(`${id} ${type} ${key}`);
    this.saving = this.saving.then(() => this.save()).catch((e: unknown) => { this.saveError = e as Error; });
    return { ok: true, added: true };
  }

  /** Waits for pinned keys to be on disk; a failed write is reported here. */
  async flush(): Promise<void> {
    await this.saving;
    if (this.saveError) throw new DvrError('DVR_ERR_CONFIG', `cannot save pinned host keys to ${this.file}: ${this.saveError.message}`);
  }

  private async save(): Promise<void> {
    await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, `${this.lines.join('\n')}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.file);
  }
}
