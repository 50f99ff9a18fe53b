// `dvr lab up | status | fault <kind> [host] | down`: a cluster on one machine (lab/lab.ts).
import path from 'node:path';
import { isDvrError } from '../common/errors.js';
import { FAULTS, FaultUsageError, applyFault, checkFault } from '../lab/faults.js';
import { down, status, up, urlLines } from '../lab/lab.js';
import { readState, type LabOptions } from '../lab/state.js';

export const LAB_HELP = `usage: dvr lab up | status | fault <kind> [host] | down

A whole cluster on this machine (root; network namespaces): a controller, a storage host, two
origin+transcoder hosts, a transcoder, two edges and a relay, provisioned with dvr-provision from an
inventory it writes, every transcoder and edge mounting the storage host over the network, and a
publisher with a burnt-in clock. 'up' prints the same lines as 'dvr start' and returns with the
cluster running; hosts are named as the API names their nodes.

faults:
${Object.entries(FAULTS).map(([k, v]) => `  ${k.padEnd(17)}${v}`).join('\n')}

environment:
  DVR_LAB_DIR      where the lab keeps its hosts' files and state (default /var/lib/dvr-lab)
  DVR_LAB_NAME     prefix of its namespaces and links, at most 13 characters (default dvrlab)
  DVR_LAB_SUBNET   its network, a /24 (default 10.209.77.0/24)
  DVR_ADMIN_TOKEN  the controller's admin token (default: generated, kept in the lab directory)
`;

function labOptions(): LabOptions {
  const name = process.env['DVR_LAB_NAME'] ?? 'dvrlab';
  const subnet = process.env['DVR_LAB_SUBNET'] ?? '10.209.77.0/24';
  if (!/^[a-z][a-z0-9]{0,12}$/.test(name)) throw new FaultUsageError(`DVR_LAB_NAME: '${name}' must be 1-13 lower-case letters and digits`);
  if (!/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.test(subnet)) throw new FaultUsageError(
    `DVR_LAB_SUBNET: '${subnet}' must be a /24 written a.b.c.0/24`);
  return { name, subnet, dir: path.resolve(process.env['DVR_LAB_DIR'] ?? '/var/lib/dvr-lab') };
}

const say = (line: string): void => console.log(`- ${line}`);

/** Runs `dvr lab ...`; returns the exit status (2: usage). */
export async function labMain(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    (sub === undefined ? console.error : console.log)(LAB_HELP);
    return sub === undefined ? 2 : 0;
  }
  try {
    const o = labOptions();
    switch (sub) {
      case 'up': {
        if (rest.length > 0) throw new FaultUsageError(`'dvr lab up' takes no arguments (got ${rest.join(' ')})`);
        const s = await up(o, say);
        for (const l of urlLines(s)) console.log(l);
        return 0;
      }
      case 'down':
        if (rest.length > 0) throw new FaultUsageError(`'dvr lab down' takes no arguments (got ${rest.join(' ')})`);
        await down(o, say);
        return 0;
      case 'status': {
        const s = await readState(o.dir);
        if (!s) { console.error(`dvr lab: no lab in ${o.dir} (dvr lab up makes one)`); return 1; }
        for (const l of await status(s)) console.log(l);
        return 0;
      }
      case 'fault': {
        const [kind, hostName, ...extra] = rest;
        if (kind === undefined) throw new FaultUsageError(`'dvr lab fault' needs a kind: ${Object.keys(FAULTS).join(', ')}`);
        if (extra.length > 0) throw new FaultUsageError(`'dvr lab fault ${kind}' takes at most one host (got ${rest.slice(1).join(' ')})`);
        if (!(kind in FAULTS)) throw new FaultUsageError(`unknown fault '${kind}'; faults: ${Object.keys(FAULTS).join(', ')}`);
        const s = await readState(o.dir);
        if (!s) { console.error(`dvr lab: no lab in ${o.dir} (dvr lab up makes one)`); return 1; }
        const f = checkFault(s, kind, hostName);
        const done = await applyFault(s, f.kind, f.host, say);
        console.log(`${new Date().toISOString()} ${done}`);
        return 0;
      }
      default:
        throw new FaultUsageError(`unknown lab command '${sub}' (up, status, fault, down)`);
    }
  } catch (err) {
    if (err instanceof FaultUsageError) {
      console.error(`dvr lab: ${err.message}`);
      return 2;
    }
    console.error(`dvr lab: ${isDvrError(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
