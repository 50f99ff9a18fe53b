#!/usr/bin/env node
// The appliance's launcher: `dvr start`. Like dvr-agent's, it sizes libuv's thread pool before
// anything uses it (see dvr-agent.cts: a hung storage mount must not take every thread).
process.env['UV_THREADPOOL_SIZE'] ??= '64';
void import('./appliance-main.js');
