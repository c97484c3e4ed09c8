import { Client, Connection } from '@temporalio/client';
import { toClientOptions } from '@temporalio/envconfig';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { AppConfig } from './config/config';
import { tracingClientInterceptors } from './observability/tracing';

/** The SDK's connection options, made by envconfig from the loaded settings (it reads the TLS files
 *  and turns TLS on for an API key, as the Temporal CLI does). */
export function connectionOptions(config: AppConfig): NativeConnectionOptions {
  const t = config.temporal;
  const { connectionOptions: options } = toClientOptions({
    address: t.address,
    namespace: t.namespace,
    ...(t.api_key ? { apiKey: t.api_key } : {}),
    ...(t.tls ? { tls: t.tls } : {}),
    ...(t.grpc_meta ? { grpcMeta: t.grpc_meta } : {}),
  });
  // Unset fields left out, so the SDK's own defaults apply.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as NativeConnectionOptions;
}

export function connectWorker(config: AppConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

export async function connectClient(config: AppConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({
    connection,
    namespace: config.temporal.namespace,
    interceptors: { workflow: tracingClientInterceptors() },
  });
}
