/**
 * The workflow interceptors bundled with the workflow code (bundleWorkflowCode's
 * workflowInterceptorModules): OpenTelemetry spans for the workflow run and each activity it
 * schedules, with the trace context passed on in activity headers. These are the SDK's
 * deterministic workflow interceptors (imported from the package's workflow entry only); their
 * spans leave the sandbox through the `exporter` sink the worker injects.
 */
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
