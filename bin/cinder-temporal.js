#!/usr/bin/env node
// The command-line face of cinder-temporal. In a checkout it runs the TypeScript sources through
// tsx; in a built image (no src/) it runs the compiled dist/.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const source = path.join(root, 'src', 'cli', 'main.ts');
if (fs.existsSync(source)) {
  require('tsx/cjs');
  require(source).run(process.argv.slice(2));
} else {
  require(path.join(root, 'dist', 'cli', 'main.js')).run(process.argv.slice(2));
}
