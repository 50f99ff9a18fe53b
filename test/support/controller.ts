// A controller in the test's own process, on a given address, with test-sized timings.
import { silentLogger } from '../../common/log.js';
import { Controller, type ControllerOptions } from '../../controller/controller.js';

export function startTestController(dataDir: string, host: string, port: number, adminToken: string,
  over: Partial<ControllerOptions> = {}): Promise<Controller> {
  return Controller.start({
    dataDir, host, port, log: silentLogger(), adminToken, deadAfterMs: 20_000, provisioningTimeoutMs: 600_000, sweepIntervalMs: 1000,
    originRtmpPort: 1935, edgeHttpPort: 8080, endGraceSeconds: 30, playbackTtlSeconds: 3600, scaleIntervalMs: 600_000, ...over,
  });
}
