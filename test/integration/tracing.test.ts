/**
 * Traces: a rescheduled create is one trace, from the client's start through the workflow (scheduler
 * worker) to both backends' create attempts (two volume worker processes).
 *
 * The workers are separate processes, so an in-memory exporter inside them could not be read here.
 * Instead they export exactly as in production (OTLP/HTTP, OTEL_EXPORTER_OTLP_ENDPOINT) to a small
 * OTLP receiver on loopback in this test, which keeps what it receives in memory; the client's
 * spans, made in this process, go to the SDK's InMemorySpanExporter. Both sets are then joined by
 * trace id.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { createVolume, type NewVolumeRequest } from '../../src/client/volumes';
import { startTracing, tracingClientInterceptors } from '../../src/observability/tracing';
import { eventually, startCluster, type Cluster } from '../support/cluster';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  status?: { code?: number };
}

/** OTLP/JSON attribute list → plain object. */
function attrs(list: Array<{ key: string; value: Record<string, unknown> }> | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
}

/** An OTLP/HTTP traces receiver (JSON, as @opentelemetry/exporter-trace-otlp-http sends) that
 *  keeps every span in memory. */
async function startReceiver(): Promise<{ url: string; spans: ReceivedSpan[]; close(): Promise<void> }> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      if (req.url !== '/v1/traces' || !String(req.headers['content-type']).includes('json')) {
        res.writeHead(415).end();
        return;
      }
      const doc = JSON.parse(body.toString('utf8')) as {
        resourceSpans: Array<{
          resource?: { attributes?: Array<{ key: string; value: Record<string, unknown> }> };
          scopeSpans: Array<{
            spans: Array<
              Omit<ReceivedSpan, 'attributes' | 'resource'> & {
                attributes?: Array<{ key: string; value: Record<string, unknown> }>;
              }
            >;
          }>;
        }>;
      };
      for (const rs of doc.resourceSpans ?? []) {
        const resource = attrs(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) spans.push({ ...s, attributes: attrs(s.attributes), resource });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

describe('traces: one trace per create, across the client and both worker kinds', { timeout: 240_000 }, () => {
  let c: Cluster;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const clientSpans = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(clientSpans)] });

  before(async () => {
    receiver = await startReceiver();
    provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
    // A is larger, so the CapacityWeigher picks it first; its create fails once and B takes it.
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'cinder-it' },
    });
  });
  after(async () => {
    await c?.stopAfterLeakCheck();
    await provider.shutdown();
    trace.disable();
    await receiver?.close();
  });

  it('the workers say where traces go', () => {
    for (const key of ['scheduler', 'A', 'B']) {
      const running = c
        .worker(key)
        .logs()
        .find((l) => l.event === 'worker.running');
      assert.equal(running?.traces, `${receiver.url}/v1/traces`, key);
    }
  });

  it("a rescheduled create: the start, the workflow and both attempts' backend spans share one trace", async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'traced',
    });
    const client = new Client({
      connection: c.client.connection,
      interceptors: { workflow: tracingClientInterceptors() },
    });
    const h = await createVolume(
      client,
      { project_id: `project-${c.id}`, size: 1, name: 'traced' } as NewVolumeRequest,
      { taskQueue: c.taskQueue },
    );
    const result = await h.result();
    assert.equal(result.backend_id, c.pool('B').backend_id);
    assert.equal(result.attempts.length, 2);

    await provider.forceFlush();
    const start = clientSpans.getFinishedSpans().find((s) => s.name === 'StartWorkflow:createVolume');
    assert.ok(
      start,
      `a client start span; got ${clientSpans
        .getFinishedSpans()
        .map((s) => s.name)
        .join(', ')}`,
    );
    const traceId = start.spanContext().traceId;

    const backendSpans = (host: string) =>
      receiver.spans.filter(
        (s) =>
          s.traceId === traceId &&
          s.name === 'RunActivity:createVolumeFromSpec' &&
          s.resource['cinder.roles'] === `volume:${host}`,
      );
    await eventually(
      async () => backendSpans(c.host('A')).length > 0 && backendSpans(c.host('B')).length > 0,
      30_000,
      "both backends' create spans",
    );
    const [onA] = backendSpans(c.host('A'));
    const [onB] = backendSpans(c.host('B'));
    assert.equal(onA.status?.code, 2, 'the failed attempt on A is an error span');
    assert.notEqual(onB.status?.code, 2, 'the attempt on B succeeded');

    // The workflow's own span (from the scheduler worker's sandbox, through the exporter sink)
    // continues the client's start span.
    await eventually(
      async () => receiver.spans.some((s) => s.traceId === traceId && s.name === 'RunWorkflow:createVolume'),
      30_000,
      'the workflow span',
    );
    const run = receiver.spans.find((s) => s.traceId === traceId && s.name === 'RunWorkflow:createVolume')!;
    assert.equal(run.resource['cinder.roles'], 'scheduler');
    assert.equal(run.resource['service.name'], 'cinder-it');
    assert.equal(run.parentSpanId, start.spanContext().spanId);
    const scheduling = receiver.spans.filter(
      (s) => s.traceId === traceId && s.name === 'RunActivity:scheduleCreateVolume',
    );
    assert.equal(scheduling.length, 2, 'two scheduling passes, on the scheduler worker');

    // One trace per create: every span about this workflow carries the same trace id.
    const ofThisCreate = receiver.spans.filter((s) => s.attributes.temporalWorkflowId === h.workflowId);
    assert.ok(ofThisCreate.length >= 5, `spans naming the workflow: ${ofThisCreate.map((s) => s.name).join(', ')}`);
    assert.deepEqual([...new Set(ofThisCreate.map((s) => s.traceId))], [traceId]);
  });

  it('no endpoint, no tracing: nothing is registered or exported', () => {
    assert.equal(startTracing(undefined, 'x'), null);
  });
});
