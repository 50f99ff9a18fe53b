// A child that must not outlive the process that started it (nginx and the encoders of the
// one-machine appliance): started through util-linux's setpriv, which asks the kernel to send it a
// signal when its parent dies (PR_SET_PDEATHSIG) and then execs the program itself, so the pid,
// the command line and the signals it takes stay the program's own. Leaf module.
import { existsSync } from 'node:fs';

const SETPRIV = '/usr/bin/setpriv';

/**
 * `binary args` as a command line that ends with its parent: SIGTERM (nginx and ffmpeg both stop
 * on it) when this process dies, however it dies (kill -9 included). Without setpriv (not a Debian
 * machine), the command is returned as it is.
 */
export function leashed(binary: string, args: readonly string[]): { binary: string; args: string[] } {
  if (!existsSync(SETPRIV)) return { binary, args: [...args] };
  return { binary: SETPRIV, args: ['--pdeathsig', 'TERM', '--', binary, ...args] };
}
