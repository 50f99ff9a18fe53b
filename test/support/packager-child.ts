// A packager in its own process, so a test can SIGKILL it: argv[2] = root, argv[3] = settings JSON.
// Prints one JSON line per listed segment.
import { silentLogger } from '../../common/log.js';
import { Packager } from '../../packager/packager.js';

const packager = new Packager({ root: process.argv[2] ?? '.', log: silentLogger() });
packager.events.on('listed', (e) => process.stdout.write(`${JSON.stringify({ rendition: e.rendition, seq: e.seq, file: e.file })}\n`));
await packager.addStream(JSON.parse(process.argv[3] ?? '{}') as { app: string; stream: string });
process.stdout.write('ready\n');
process.on('SIGTERM', () => { void packager.close().then(() => process.exit(0)); });
