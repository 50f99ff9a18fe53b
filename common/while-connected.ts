// A request that waits (a blocking reload, a part not cut yet) stops waiting when its client goes.
import type http from 'node:http';

/**
 * Runs `wait` with a signal that aborts if the client's connection closes before the answer is
 * written; `left()` says afterwards whether it did (nothing is to be written then).
 */
export async function whileConnected<T>(req: http.IncomingMessage, res: http.ServerResponse,
  wait: (signal: AbortSignal) => Promise<T>): Promise<{ value: T; left: () => boolean }> {
  const leaving = new AbortController();
  const gone = (): void => { if (!res.writableFinished) leaving.abort(); };
  req.socket.once('close', gone);
  try {
    return { value: await wait(leaving.signal), left: () => leaving.signal.aborted };
  } finally {
    req.socket.off('close', gone);
  }
}
