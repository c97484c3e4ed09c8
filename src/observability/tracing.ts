/**
 * Traces with @temporalio/interceptors-opentelemetry: the client's start, the workflow (in its
 * sandbox, through the SDK's deterministic interceptors and an exporter sink) and every activity on
 * the scheduler and volume workers join one trace per create, carried in Temporal headers. Spans are
 * exported over OTLP/HTTP when an endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); without one, no provider is registered and nothing is sent.
 */
import os from 'node:os';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
// The package's Node entries (its index also loads the workflow-side modules, not needed here).
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { ActivityInterceptorsFactory, InjectedSinks } from '@temporalio/worker';
import type { AppConfig } from '../config/config';

export type TracingSettings = NonNullable<AppConfig['tracing']>;

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  /** Sends what is buffered (call before a short-lived process exits). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Registers a global tracer provider exporting to the endpoint, or does nothing (null) without one.
 *  `attributes` go on every span's resource (the worker's roles, so a backend's spans are told apart). */
export function startTracing(
  settings: TracingSettings | undefined,
  defaultServiceName: string,
  attributes: Record<string, string> = {},
): Tracing | null {
  if (!settings?.otlp_traces_endpoint) return null;
  const resource = new Resource({
    'service.name': settings.service_name ?? defaultServiceName,
    'service.instance.id': `${os.hostname()}/${process.pid}`,
    ...attributes,
  });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.otlp_traces_endpoint }), {
    scheduledDelayMillis: 1000,
  });
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // W3C trace context across async calls in this process; the interceptors carry it across processes.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return {
    resource,
    spanProcessor,
    flush: () => provider.forceFlush(),
    shutdown: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The client interceptor: a create's start span, whose context the workflow continues. With no
 *  provider registered its spans do not record and it adds nothing to the start. */
export function tracingClientInterceptors(): WorkflowClientInterceptor[] {
  return [new OpenTelemetryWorkflowClientInterceptor()];
}

export const tracingActivityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
  outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
});

/**
 * The `exporter` sink the workflow interceptors (always in the bundle) send their spans to: the
 * span processor when tracing is on, a no-op otherwise. Not called during replay.
 */
export function workflowSpanSinks(tracing: Tracing | null): InjectedSinks<{ exporter: OpenTelemetryWorkflowExporter }> {
  if (tracing) return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return { exporter: { export: { fn: () => undefined, callDuringReplay: false } } };
}
