#!/usr/bin/env node
// The command-line face of cinder-temporal. In a checkout it runs the TypeScript sources through
// tsx; in a built image (no src/) it runs the compiled dist/.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');

// `npx cinder-temporal worker` runs this under npm exec and a shell, which do not pass a `kill` of
// their PID on: when the process that started this one goes away (this one is re-parented), stop as
// on SIGTERM, so no worker is left behind. Started directly by init (a container), ppid stays 1.
const parent = process.ppid;
if (parent !== 1) {
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    process.kill(process.pid, 'SIGTERM');
  }, 500);
  watch.unref();
}
const source = path.join(root, 'src', 'cli', 'main.ts');
if (fs.existsSync(source)) {
  require('tsx/cjs');
  require(source).run(process.argv.slice(2));
} else {
  require(path.join(root, 'dist', 'cli', 'main.js')).run(process.argv.slice(2));
}
