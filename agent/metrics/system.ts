// Host figures from systeminformation, for heartbeats and /metrics.
import si from 'systeminformation';
import type { SystemFigures } from '../../common/protocol.js';
import type { StorageState } from '../storage/monitor.js';

export async function systemFigures(storage: StorageState | undefined): Promise<SystemFigures> {
  const [load, mem, net] = await Promise.all([si.currentLoad(), si.mem(), si.networkStats('*')]);
  const rx = net.reduce((a, n) => a + (n.rx_sec ?? 0), 0);
  const tx = net.reduce((a, n) => a + (n.tx_sec ?? 0), 0);
  return {
    cpuLoadPercent: load.currentLoad,
    memoryUsedBytes: mem.active,
    memoryTotalBytes: mem.total,
    networkRxBytesPerSec: Math.max(0, rx),
    networkTxBytesPerSec: Math.max(0, tx),
    storageFreeBytes: storage?.freeBytes,
    storageTotalBytes: storage?.totalBytes,
  };
}
