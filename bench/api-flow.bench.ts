/**
 * The API flow as a chain of four local activities vs one local activity making the same calls:
 * p50/p95 latency of a workflow running just that flow, and its history events, on a local dev
 * server with an in-process worker and a real SQLite store. Sequential (one client): it measures
 * the per-step cost, not throughput.  npx tsx bench/api-flow.bench.ts [runs]
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createApiActivities } from '../src/activities/api-activities';
import { DEFAULT_CREATE_OPTIONS } from '../src/domain/create-options';
import { DEFAULT_REQUEST_LIMITS } from '../src/domain/validation';
import { freePort, startDevServer } from '../src/dev-server/dev-server';
import { openVolumeStore } from '../src/store';

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 100);
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-api-'));
  const server = await startDevServer({ port: await freePort(), ui: false, reuseExisting: false });
  const store = await openVolumeStore(`sqlite:${path.join(dir, 'cinder.db')}`);
  await store.putVolumeType({ name: 'default', extra_specs: {} });
  const api = createApiActivities({
    store,
    logger: pino({ level: 'silent' }),
    now: () => new Date(),
    limits: DEFAULT_REQUEST_LIMITS,
    createDefaults: { ...DEFAULT_CREATE_OPTIONS },
  });
  const activities = {
    ...api,
    async apiFlowInOne(request: unknown, workflowId: string, owner: string) {
      const spec = await api.extractVolumeRequest(request, undefined);
      await api.reserveQuota(spec, owner);
      await api.createVolumeEntry(spec, workflowId, owner);
      await api.commitQuota(spec.request.volume_id, owner);
      return spec;
    },
  };
  const connection = await NativeConnection.connect({ address: server.address });
  const worker = await Worker.create({
    connection,
    taskQueue: 'bench-api',
    workflowsPath: require.resolve('./api-flow-workflows'),
    activities,
  });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const out: Record<string, unknown> = {};
  await worker.runUntil(async () => {
    for (const shape of ['apiFlowChain', 'apiFlowOne', 'apiFlowChain', 'apiFlowOne'] as const) {
      const ms: number[] = [];
      let events = 0;
      for (let i = 0; i < runs; i++) {
        const id = randomUUID();
        const t0 = performance.now();
        const h = await client.workflow.start(shape, {
          taskQueue: 'bench-api',
          workflowId: `bench-${id}`,
          args: [{ volume_id: id, project_id: `bench-${id.slice(0, 8)}`, size: 1 }],
        });
        await h.result();
        ms.push(performance.now() - t0);
        if (i === 0) events = (await h.fetchHistory()).events?.length ?? 0;
      }
      const line = { p50_ms: +pct(ms, 50).toFixed(1), p95_ms: +pct(ms, 95).toFixed(1), events };
      out[shape] = line; // the second, warmed-up block of each shape wins
      process.stdout.write(`${shape.padEnd(14)} p50 ${line.p50_ms} ms  p95 ${line.p95_ms} ms  events ${events}\n`);
    }
  });
  process.stdout.write(JSON.stringify(out) + '\n');
  await store.close();
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
