// A PostgreSQL server of its own (Debian's postgresql package) in a directory: made with initdb,
// started with pg_ctl, listening on one address with password authentication, for the lab's
// controllers and for the tests. PostgreSQL refuses to run as root: as root, it runs as the
// package's `postgres` user, which then owns the directory.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DvrError } from '../common/errors.js';

const exec = promisify(execFile);

/** Debian keeps the server's programs out of PATH, under the version's directory: the newest one. */
export async function postgresBin(): Promise<string> {
  const root = '/usr/lib/postgresql';
  const versions = (await fs.readdir(root).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = path.join(root, v, 'bin');
    if (await fs.access(path.join(bin, 'pg_ctl')).then(() => true, () => false)) return bin;
  }
  throw new DvrError('DVR_ERR_DEPENDENCY', 'PostgreSQL\'s server is not installed (no /usr/lib/postgresql/<version>/bin/pg_ctl): '
    + 'bash scripts/install-deps.sh --test (as root), or apt-get install postgresql');
}

export interface PostgresServerOptions {
  /** Its data and socket directories go here (made, and given to the server's user). */
  dir: string;
  host: string;
  port: number;
  /** The superuser, who owns the database `database`. */
  user: string;
  password: string;
  database: string;
  /** Runs a command where the server lives (a lab host's namespace); default: here. */
  wrap?: (argv: string[]) => string[];
  /** Addresses (CIDR) that may connect with the password; default: the host's own. */
  allow?: string[];
}

/** A running server; `stop()` is idempotent. */
export class PostgresServer {
  private stopped = false;

  private constructor(private readonly o: PostgresServerOptions, private readonly bin: string, private readonly as: string[]) {}

  /** The URL the controllers are given. */
  get url(): string {
    const host = this.o.host.includes(':') ? `[${this.o.host}]` : this.o.host;
    return `postgres://${encodeURIComponent(this.o.user)}:${encodeURIComponent(this.o.password)}@${host}:${this.o.port}/${this.o.database}`;
  }

  static async start(o: PostgresServerOptions): Promise<PostgresServer> {
    const bin = await postgresBin();
    const root = process.getuid?.() === 0;
    const as = root ? ['runuser', '-u', 'postgres', '--'] : [];
    const data = path.join(o.dir, 'data');
    const sockets = path.join(o.dir, 'run');
    await fs.mkdir(sockets, { recursive: true, mode: 0o700 });
    const pwfile = path.join(o.dir, 'pwfile');
    await fs.writeFile(pwfile, `${o.password}\n`, { mode: 0o600 });
    if (root) {
      const { stdout } = await exec('id', ['-u', 'postgres']).catch(() => {
        throw new DvrError('DVR_ERR_DEPENDENCY', 'no `postgres` user: install Debian\'s postgresql package (it makes the user)');
      });
      const uid = Number(stdout.trim());
      const gid = Number((await exec('id', ['-g', 'postgres'])).stdout.trim());
      for (const p of [o.dir, sockets, pwfile]) await fs.chown(p, uid, gid);
    }
    const s = new PostgresServer(o, bin, as);
    const run = async (argv: string[]): Promise<void> => {
      const full = (o.wrap ?? ((a: string[]) => a))([...as, ...argv]);
      await exec(full[0] as string, full.slice(1), { timeout: 60_000 }).catch((err: unknown) => {
        const e = err as { stderr?: string; message?: string };
        throw new DvrError('DVR_ERR_DEPENDENCY', `${path.basename(argv[0] ?? '')}: ${(e.stderr ?? e.message ?? '').trim().slice(-400)}`);
      });
    };
    await run([path.join(bin, 'initdb'), '-D', data, '-U', o.user, `--pwfile=${pwfile}`, '--auth-local=scram-sha-256',
      '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync']);
    await fs.rm(pwfile, { force: true });
    const allow = o.allow ?? [o.host.includes(':') ? `${o.host}/128` : `${o.host}/32`];
    // Only the listed networks, with the password; nothing else reaches it.
    await fs.writeFile(path.join(data, 'pg_hba.conf'), [
      'local all all scram-sha-256',
      ...allow.map((net) => `host all all ${net} scram-sha-256`),
      '',
    ].join('\n'));
    await s.serve();
    await s.createDatabase(o.database);
    return s;
  }

  /** A database of its own (a test's), owned by the superuser. */
  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new DvrError('DVR_ERR_BAD_REQUEST', `database name '${name}'`);
    const { default: pg } = await import('pg');
    // Through the server's socket: the networks it lets in may not include this one.
    const admin = new pg.Client({ host: path.join(this.o.dir, 'run'), port: this.o.port, user: this.o.user, password: this.o.password,
      database: 'postgres' });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name}`);
    } catch (err) {
      if ((err as { code?: string }).code !== '42P04') throw err;
    } finally {
      await admin.end();
    }
    return this.url.replace(/\/[^/]*$/, `/${name}`);
  }

  /** pg_ctl on the data directory, where the server lives. */
  private async ctl(args: string[]): Promise<void> {
    const argv = (this.o.wrap ?? ((a: string[]) => a))([...this.as, path.join(this.bin, 'pg_ctl'), '-D', path.join(this.o.dir, 'data'),
      ...args]);
    await exec(argv[0] as string, argv.slice(1), { timeout: 60_000 }).catch((err: unknown) => {
      const e = err as { stderr?: string; message?: string };
      throw new DvrError('DVR_ERR_DEPENDENCY', `pg_ctl ${args.at(-1) ?? ''}: ${(e.stderr ?? e.message ?? '').trim().slice(-400)}`);
    });
  }

  /** Starts the server on its data (made by initdb); resolves once it takes connections. */
  async serve(): Promise<void> {
    this.stopped = false;
    await this.ctl(['-w', '-t', '30', '-l', path.join(this.o.dir, 'postgres.log'), '-o',
      `-c listen_addresses=${this.o.host} -c port=${this.o.port} -c unix_socket_directories=${path.join(this.o.dir, 'run')} `
        + '-c fsync=on -c max_connections=200', 'start']);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.ctl(['-m', 'fast', '-w', '-t', '30', 'stop']).catch(() => undefined);
  }
}
