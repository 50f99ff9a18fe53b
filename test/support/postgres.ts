// A real PostgreSQL for the tests (Debian's server, started by the test, on loopback): one server
// for the suites that run together, a database of its own for each that asks.
import { promises as fs } from 'node:fs';
import { PostgresServer } from '../../lab/postgres.js';
import { freePort, tempDir } from './run.js';

let server: Promise<{ pg: PostgresServer; dir: string }> | undefined;
let users = 0;
let made = 0;

/**
 * In a describe: a fresh database on the shared server for each call of the function returned
 * (its URL), the server started before the suite and stopped after the last suite that used it.
 */
export function usePostgres(): (() => Promise<string>) & { server: () => Promise<PostgresServer> } {
  before(async function () {
    this.timeout(120_000);
    users++;
    server ??= (async () => {
      const dir = await tempDir('postgres');
      await fs.chmod(dir, 0o755);
      return { pg: await PostgresServer.start({ dir, host: '127.0.0.1', port: await freePort(), user: 'dvr',
        password: `test-${process.pid}-password`, database: 'dvr' }), dir };
    })();
    await server;
  });
  after(async function () {
    this.timeout(60_000);
    if (--users > 0 || !server) return;
    const { pg, dir } = await server;
    server = undefined;
    await pg.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });
  const running = async (): Promise<PostgresServer> => {
    if (!server) throw new Error('usePostgres: the server starts in the suite\'s before()');
    return (await server).pg;
  };
  return Object.assign(async () => (await running()).createDatabase(`t${process.pid}_${++made}`), { server: running });
}
