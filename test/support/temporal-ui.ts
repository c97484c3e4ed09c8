/**
 * For browser tests of the Temporal web UI: the dev server's UI (the shared one that test/run.ts
 * starts, or an own one when a file runs alone) and a headless Chromium driven by playwright-core.
 * No browser is downloaded: the system's `chromium` is launched (scripts/ensure-chromium.sh
 * installs Debian's package), or the binary in CHROMIUM_PATH.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { freePort, startDevServer } from '../../src/dev-server/dev-server';

/** Flags for a machine without outside network: no first-run, sync, component or QUIC traffic. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** `CHROMIUM_PATH`, else `chromium` on PATH (what `which chromium` prints). */
export function findChromium(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, 'chromium');
    if (isExecutable(candidate)) return candidate;
  }
  throw new Error(
    "no chromium on PATH: run scripts/ensure-chromium.sh (as root, installs Debian's chromium) or set CHROMIUM_PATH",
  );
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS, timeout: 120_000 });
}

export interface TemporalUi {
  /** The frontend the cluster's workers and client must use, so the UI shows their workflows. */
  address: string;
  uiUrl: string;
  namespace: string;
  stop(): Promise<void>;
}

/**
 * The shared dev server and its UI when npm test exported both TEMPORAL_ADDRESS and
 * TEMPORAL_UI_URL; otherwise an own dev server with the UI, on free ports.
 */
export async function temporalUi(logFile?: string): Promise<TemporalUi> {
  const namespace = 'default';
  const { TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: uiUrl } = process.env;
  if (address && uiUrl) return { address, uiUrl: uiUrl.replace(/\/+$/, ''), namespace, stop: async () => undefined };
  const server = await startDevServer({
    port: await freePort(),
    uiPort: await freePort(),
    ui: true,
    reuseExisting: false,
    namespace,
    logFile,
  });
  return { address: server.address, uiUrl: server.uiUrl!, namespace, stop: () => server.stop() };
}

/** Runs fn with TEMPORAL_ADDRESS set to address (the Cluster harness reads it), then restores it. */
export async function withTemporalAddress<T>(address: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = address;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = before;
  }
}

/**
 * Opens url and waits for target to be visible; reloads and waits again (visibility and the UI's
 * own caches may lag) until timeoutMs has passed.
 */
export async function gotoUntilVisible(
  page: Page,
  url: string,
  target: Locator,
  timeoutMs = 90_000,
  eachMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let first = true; first || Date.now() < deadline; first = false) {
    try {
      if (first) await page.goto(url, { timeout: Math.max(1000, deadline - Date.now()) });
      else await page.reload({ timeout: Math.max(1000, deadline - Date.now()) });
      await target
        .first()
        .waitFor({ state: 'visible', timeout: Math.max(1000, Math.min(eachMs, deadline - Date.now())) });
      return;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`${url}: ${target} not visible after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
}
