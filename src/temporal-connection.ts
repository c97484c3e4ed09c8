import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { AppConfig } from './config/config';

type Tls = { clientCertPair?: { crt: Buffer; key: Buffer }; serverRootCACertificate?: Buffer; serverNameOverride?: string } | true | undefined;

/** TLS as the SDK wants it: client cert pair for mTLS, plain TLS for an API key. */
function tlsOptions(config: AppConfig): Tls {
  const tls = config.temporal.tls;
  if (tls?.client_cert_path || tls?.client_key_path || tls?.server_ca_cert_path) {
    if (!!tls.client_cert_path !== !!tls.client_key_path) {
      throw new Error('TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together');
    }
    return {
      ...(tls.client_cert_path && tls.client_key_path
        ? { clientCertPair: { crt: fs.readFileSync(tls.client_cert_path), key: fs.readFileSync(tls.client_key_path) } }
        : {}),
      ...(tls.server_ca_cert_path ? { serverRootCACertificate: fs.readFileSync(tls.server_ca_cert_path) } : {}),
      ...(tls.server_name ? { serverNameOverride: tls.server_name } : {}),
    };
  }
  return config.temporal.api_key ? true : undefined;
}

export function connectionOptions(config: AppConfig) {
  const tls = tlsOptions(config);
  return {
    address: config.temporal.address,
    ...(tls ? { tls } : {}),
    ...(config.temporal.api_key ? { apiKey: config.temporal.api_key } : {}),
  };
}

export function connectWorker(config: AppConfig): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config));
}

export async function connectClient(config: AppConfig): Promise<Client> {
  const connection = await Connection.connect(connectionOptions(config));
  return new Client({ connection, namespace: config.temporal.namespace });
}
