/**
 * `npm run build:bundle [out]` (node dist/build-bundle.js): bundles the workflow code once, for
 * production workers, so a worker start does not run webpack. Compiled with the rest by `npm run
 * build`; it bundles the workflows next to it (dist/workflows, or src/workflows under tsx). Writes
 * dist/workflow-bundle.js by default; a worker uses it when CINDER_WORKFLOW_BUNDLE names it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '..');

/** Bundled with the workflows: the OpenTelemetry workflow interceptors (workflows/interceptors.ts).
 *  A worker that bundles at start passes the same list as interceptors.workflowModules. */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('./workflows/interceptors')];

/** What bundleWorkflowCode gets, here and in the replay test: the same code as production. */
export function bundleOptions(): { workflowsPath: string; workflowInterceptorModules: string[] } {
  return { workflowsPath: require.resolve('./workflows'), workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES };
}

export async function buildWorkflowBundle(outFile: string): Promise<{ file: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({
    ...bundleOptions(),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (m: string) => process.stderr.write(`[bundle] ${m}\n`),
      error: (m: string) => process.stderr.write(`[bundle] ${m}\n`),
    },
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  // Written aside, then renamed: a worker starting meanwhile never reads half a bundle.
  const tmp = `${outFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, code);
  fs.renameSync(tmp, outFile);
  return { file: outFile, bytes: Buffer.byteLength(code) };
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? path.join(ROOT, 'dist', 'workflow-bundle.js'));
  buildWorkflowBundle(out).then(
    ({ file, bytes }) =>
      process.stdout.write(
        `workflow bundle: ${path.relative(process.cwd(), file) || file} (${(bytes / 1024).toFixed(0)} KiB)\n`,
      ),
    (err) => {
      process.stderr.write(`build:bundle: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
