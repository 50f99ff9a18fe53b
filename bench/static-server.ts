// express.static over a directory: the Node.js peer in the nginx benchmark. argv: root port
import express from 'express';

const app = express();
app.use(express.static(process.argv[2] ?? '.', { etag: false }));
app.listen(Number(process.argv[3] ?? 0), '127.0.0.1', () => process.stdout.write('ready\n'));
