/**
 * `npm run build:bundle [out]`: bundles the workflow code (src/workflows) once, for production
 * workers, so a worker start does not run webpack. Writes dist/workflow-bundle.js by default; a
 * worker uses it when CINDER_WORKFLOW_BUNDLE (workflow_bundle_path) names it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const ROOT = path.resolve(__dirname, '..');

export async function buildWorkflowBundle(outFile: string): Promise<{ file: string; bytes: number }> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve(path.join(ROOT, 'src', 'workflows')),
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
    ({ file, bytes }) => process.stdout.write(`workflow bundle: ${path.relative(process.cwd(), file) || file} (${(bytes / 1024).toFixed(0)} KiB)\n`),
    (err) => {
      process.stderr.write(`build:bundle: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
