/**
 * `npm test`: one Temporal dev server for the whole run (or the cluster in TEMPORAL_ADDRESS), the
 * Temporal server binary when a file starts a multi-node cluster of its own, the
 * workflow bundle built once for every worker process, then node's test runner over every
 * test file. Whatever happens, the server it started is stopped. It installs nothing: the system
 * packages the tests need (Chromium, PostgreSQL) are README's prerequisites, and .ci/run installs
 * them with scripts/ensure-*.sh.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildWorkflowBundle } from '../src/build-bundle';
import { freePort, startDevServer, type RunningDevServer } from '../src/dev-server/dev-server';
import { resolveTemporalServer } from '../src/dev-server/temporal-server';

const ROOT = path.resolve(__dirname, '..');

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith('.test.ts') ? [path.join(dir, e.name)] : [],
    )
    .sort();
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const files = only.length > 0 ? only.map((f) => path.resolve(f)) : testFiles(path.join(ROOT, 'test'));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-test-run-'));
  let server: RunningDevServer | null = null;
  const env: NodeJS.ProcessEnv = { ...process.env };
  try {
    if (!process.env.TEMPORAL_ADDRESS) {
      server = await startDevServer({
        port: await freePort(),
        uiPort: await freePort(),
        reuseExisting: false,
        logFile: path.join(work, 'temporal-server.log'),
        progress: (line) => process.stderr.write(`[test] ${line}\n`),
      });
      env.TEMPORAL_ADDRESS = server.address;
      if (server.uiUrl) env.TEMPORAL_UI_URL = server.uiUrl;
    }
    // Files on a multi-node cluster need the Temporal server binary: found or built here, once,
    // with progress lines, rather than inside a test's time limit.
    if (!env.TEMPORAL_SERVER_PATH && files.some((f) => /temporalcluster/i.test(fs.readFileSync(f, 'utf8')))) {
      const found = await resolveTemporalServer((line) => process.stderr.write(`[test] ${line}\n`), env);
      env.TEMPORAL_SERVER_PATH = found.server;
      env.TEMPORAL_SQL_TOOL_PATH = found.sqlTool;
    }
    // The same bundle production workers load (npm run build:bundle), built once for every worker.
    env.CINDER_WORKFLOW_BUNDLE = (await buildWorkflowBundle(path.join(work, 'workflow-bundle.js'))).file;

    const child = spawn(
      process.execPath,
      [
        '--import',
        require.resolve('tsx'),
        '--test',
        `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
        ...files,
      ],
      { cwd: ROOT, env, stdio: 'inherit' },
    );
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((resolve) =>
      child.on('exit', (c, s) => resolve(c ?? (s ? 128 + os.constants.signals[s] : 1))),
    );
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    return code;
  } finally {
    await server?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`npm test: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
