#!/usr/bin/env node
// The command-line face of cinder-temporal. It runs the compiled dist/ when it is built (and, in a
// checkout, not older than the sources); otherwise, in a checkout, the TypeScript sources through
// tsx (a dev dependency). A production install (npm ci --omit=dev) has no tsx and needs dist/.
const fs = require('node:fs');
const path = require('node:path');
const { setInterval, clearInterval } = require('node:timers');

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
const compiled = path.join(root, 'dist', 'cli', 'main.js');
const source = path.join(root, 'src', 'cli', 'main.ts');

/** Newest modification time of the .ts files under dir (0 when there are none). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

function entryPoint() {
  const hasSource = fs.existsSync(source);
  if (
    fs.existsSync(compiled) &&
    (!hasSource || fs.statSync(compiled).mtimeMs >= newestSource(path.dirname(path.dirname(source))))
  ) {
    return compiled;
  }
  if (!hasSource) {
    process.stderr.write('cinder-temporal: dist/ is not built (run npm run build)\n');
    process.exit(1);
  }
  try {
    require.resolve('tsx/cjs');
  } catch {
    process.stderr.write(
      'cinder-temporal: dist/ is missing or older than src/, and tsx is not installed: run npm run build\n',
    );
    process.exit(1);
  }
  require('tsx/cjs');
  return source;
}

require(entryPoint()).run(process.argv.slice(2));
