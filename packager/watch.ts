// Watches a stream's incoming/ directories (never the segment store itself: a week of
// segments would cost inotify and memory for nothing). The encoder renames a finished file
// into place, so an 'add' event means a complete file; no awaitWriteFinish delay.
import path from 'node:path';
import { watch } from 'chokidar';
import { parseIncomingName } from './layout.js';

export interface IncomingWatcher {
  close(): Promise<void>;
}

/** Resolves once the watcher is ready: files renamed in after that are reported. */
export function watchIncoming(dirs: string[], onFile: (dir: string, file: string) => void,
  onError: (err: unknown) => void): Promise<IncomingWatcher> {
  const watched = new Set(dirs.map((d) => path.resolve(d)));
  const watcher = watch([...watched], {
    ignoreInitial: true,
    depth: 0,
    ignored: (p: string) => !watched.has(p) && parseIncomingName(path.basename(p))?.kind !== 'segment',
  });
  watcher.on('add', (p: string) => onFile(path.dirname(p), path.basename(p)));
  watcher.on('error', onError);
  let closed = false;
  const handle: IncomingWatcher = {
    close: async () => {
      if (closed) return;
      closed = true;
      await watcher.close();
    },
  };
  return new Promise((resolve) => watcher.once('ready', () => resolve(handle)));
}
