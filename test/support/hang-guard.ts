// Mocha root hook: once every test has run, the process should exit by itself. Should anything a
// test started still hold it open (a watcher, a socket, a timer), name it and fail the run instead
// of letting it hang until CI gives up.
const GRACE_MS = 20_000;

type Handle = { constructor: { name: string }; fd?: number; localPort?: number; remotePort?: number; pid?: number; spawnfile?: string };

function describeHandle(h: Handle): string {
  const parts = [h.constructor.name];
  if (h.pid !== undefined) parts.push(`pid ${h.pid} ${h.spawnfile ?? ''}`);
  if (h.localPort !== undefined) parts.push(`local port ${h.localPort}`);
  if (h.remotePort !== undefined) parts.push(`remote port ${h.remotePort}`);
  if (typeof h.fd === 'number' && h.fd <= 2) parts.push(`stdio ${h.fd}`);
  return parts.join(' ');
}

export const mochaHooks = {
  afterAll(): void {
    setTimeout(() => {
      const handles = (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles()
        .filter((h) => !(typeof h.fd === 'number' && h.fd <= 2));
      process.stderr.write(`the tests are done but the process did not exit within ${GRACE_MS / 1000} s; still open:\n`
        + `${process.getActiveResourcesInfo().join(', ')}\n${handles.map((h) => `  ${describeHandle(h)}`).join('\n')}\n`);
      process.exit(1);
    }, GRACE_MS).unref();
  },
};
