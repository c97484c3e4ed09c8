/**
 * docker/ checked statically (no Docker engine runs here): the compose file parses, every image is
 * pinned, every variable a worker service sets is one the configuration reads, each worker's config
 * file exists and loads with that environment, one volume worker serves each backend, the search
 * attribute job creates exactly the project's attributes, Prometheus scrapes every worker where it
 * serves metrics, and the Dockerfile builds a non-root image with production dependencies and the
 * prebuilt workflow bundle. docs/deploy.md documents every variable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import YAML from 'yaml';
import { CONFIG_FILE_ENV, ENV_SETTINGS, loadConfig, parseListenAddress } from '../../src/config/config';
import { SEARCH_ATTRIBUTES, searchAttributeCliType } from '../../src/workflows/search-attributes';
import { parseRoles } from '../../src/worker';

const ROOT = path.resolve(__dirname, '..', '..');
const DOCKER = path.join(ROOT, 'docker');
const read = (p: string) => fs.readFileSync(path.join(ROOT, p), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  volumes?: string[];
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  user?: string;
  entrypoint?: string[] | string;
}

const compose = YAML.parse(read('docker/docker-compose.yml'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const WORKER_IMAGE = 'cinder-temporal-worker';
const workerServices = Object.entries(services).filter(([, s]) => s.image?.split(':')[0] === WORKER_IMAGE);

function envOf(s: Service): Record<string, string> {
  const raw = s.environment ?? {};
  const pairs = Array.isArray(raw)
    ? raw.map((e) => e.split(/=(.*)/s).slice(0, 2) as [string, string])
    : Object.entries(raw).map(([k, v]) => [k, v === null ? '' : String(v)] as [string, string]);
  // Compose interpolation: ${VAR:-default} / ${VAR-default} / ${VAR} become what an empty shell environment gives.
  return Object.fromEntries(
    pairs.map(([k, v]) => [k, v.replace(/\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g, (_m, d: string | undefined) => d ?? '')]),
  );
}

function commandOf(s: Service): string[] {
  assert.ok(Array.isArray(s.command), 'exec-form command');
  return s.command as string[];
}

/** The host file a container path comes from, through the service's bind mounts. */
function hostPathOf(s: Service, containerPath: string): string | null {
  for (const v of s.volumes ?? []) {
    const [src, dst] = v.split(':');
    if (!src.startsWith('.') && !src.startsWith('/')) continue; // a named volume
    if (containerPath === dst) return path.resolve(DOCKER, src);
    if (containerPath.startsWith(dst + '/')) return path.resolve(DOCKER, src, path.relative(dst, containerPath));
  }
  return null;
}

function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text);
  assert.ok(m, `duration ${text}`);
  return Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
}

const knownEnv = new Set([...Object.keys(ENV_SETTINGS), CONFIG_FILE_ENV]);

describe('docker/docker-compose.yml', () => {
  it('has the whole stack: PostgreSQL, Temporal on it, the UI, the search-attribute job, workers, Prometheus', () => {
    const images = Object.values(services).map((s) => s.image?.split(':')[0]);
    for (const image of [
      'postgres',
      'temporalio/auto-setup',
      'temporalio/ui',
      'temporalio/admin-tools',
      'prom/prometheus',
      WORKER_IMAGE,
    ]) {
      assert.ok(images.includes(image), `a service runs ${image}`);
    }
    assert.equal(envOf(services.temporal).DB, 'postgres12', 'Temporal persists in PostgreSQL');
    assert.equal(envOf(services.temporal).POSTGRES_SEEDS, 'postgresql');
    assert.ok(services.postgresql, 'the PostgreSQL service is named postgresql');
  });

  it('pins every image to a version tag (never latest, never untagged)', () => {
    const pkg = JSON.parse(read('package.json')) as { version: string };
    for (const [name, s] of Object.entries(services)) {
      assert.ok(s.image, `${name} names its image`);
      const m = /^([^:@]+):([^:@]+)$/.exec(s.image!);
      assert.ok(m, `${name}: ${s.image} has a tag`);
      assert.notEqual(m[2], 'latest', `${name}: ${s.image}`);
      assert.match(m[2], /\d+\.\d+/, `${name}: ${s.image} is a version`);
      if (m[1] === WORKER_IMAGE)
        assert.equal(m[2], pkg.version, `${name}: the worker image is tagged with the package version`);
    }
  });

  it('sets on worker services only variables the configuration reads, and each worker config loads with them', () => {
    assert.ok(workerServices.length >= 3, 'a scheduler and two volume workers');
    for (const [name, s] of workerServices) {
      const env = envOf(s);
      for (const key of Object.keys(env))
        assert.ok(knownEnv.has(key), `${name} sets ${key}, which the configuration does not read (ENV_SETTINGS)`);
      assert.ok(env[CONFIG_FILE_ENV], `${name} names its config file`);
      const hostFile = hostPathOf(s, env[CONFIG_FILE_ENV]);
      assert.ok(hostFile, `${name}: ${env[CONFIG_FILE_ENV]} is mounted from the repository`);
      assert.ok(fs.existsSync(hostFile), `${name}: ${hostFile} exists`);
      const config = loadConfig({ ...env, [CONFIG_FILE_ENV]: hostFile }, DOCKER);
      assert.match(config.database_url, /^postgres:\/\/[^@]+@postgresql:5432\//, `${name} uses the compose PostgreSQL`);
      assert.equal(config.temporal.address, 'temporal:7233');
      assert.ok(config.metrics_address && config.health_address, `${name} serves metrics and health`);
      const cmd = commandOf(s);
      assert.deepEqual(cmd.slice(0, 2), ['node', 'dist/worker.js'], `${name} runs the compiled worker`);
      parseRoles(cmd.slice(2), config); // throws, naming the setting, for an unknown role or backend
      assert.ok(
        durationMs(s.stop_grace_period ?? '10s') > config.shutdown_grace_ms,
        `${name}: stop_grace_period outlasts shutdown_grace_ms (${config.shutdown_grace_ms} ms)`,
      );
    }
  });

  it('runs exactly one volume worker per configured backend, each with its own pools volume', () => {
    const served = new Map<string, string[]>();
    const poolVolumes = new Set<string>();
    let config: ReturnType<typeof loadConfig> | null = null;
    for (const [name, s] of workerServices) {
      const env = envOf(s);
      config = loadConfig({ ...env, [CONFIG_FILE_ENV]: hostPathOf(s, env[CONFIG_FILE_ENV])! }, DOCKER);
      const roles = parseRoles(commandOf(s).slice(2), config);
      if (roles.backends.length === 0) continue;
      assert.equal(roles.scheduler, false, `${name}: a volume worker runs only volume roles`);
      assert.equal(s.deploy?.replicas ?? 1, 1, `${name}: one replica per backend`);
      for (const host of roles.backends) served.set(host, [...(served.get(host) ?? []), name]);
      const named = (s.volumes ?? [])
        .map((v) => v.split(':'))
        .filter(([src]) => !src.startsWith('.') && !src.startsWith('/'));
      for (const host of roles.backends) {
        for (const pool of config.backends.find((b) => b.host === host)!.pools) {
          const mount = named.find(([, dst]) => pool.path.startsWith(dst + '/'));
          assert.ok(mount, `${name}: pool ${pool.path} is on a named volume`);
          assert.ok(compose.volumes && mount[0] in compose.volumes, `${mount[0]} is declared`);
          poolVolumes.add(`${mount[0]}`);
        }
      }
      assert.equal(named.length, 1, `${name}: one pools volume`);
    }
    assert.ok(config);
    for (const b of config.backends)
      assert.deepEqual(
        served.get(b.host)?.length,
        1,
        `${b.host} is served by exactly one volume worker (${served.get(b.host)})`,
      );
    assert.equal(poolVolumes.size, config.backends.length, 'no two backends share a pools volume');
    assert.ok((services['cinder-scheduler']?.deploy?.replicas ?? 1) >= 2, 'the scheduler pool runs several replicas');
  });

  it("creates exactly the project's search attributes, with their types", () => {
    const [jobName, job] =
      Object.entries(services).find(([, s]) => s.image?.startsWith('temporalio/admin-tools:')) ?? [];
    assert.ok(jobName && job, 'a temporalio/admin-tools job');
    const script = ([] as string[]).concat(job.command ?? []).join('\n');
    assert.match(script, /temporal operator search-attribute create/);
    const specs = [...script.matchAll(/\b([A-Z][A-Za-z]+):(Keyword|Int|Text|Bool|Double|Datetime|KeywordList)\b/g)]
      .map((m) => `${m[1]}:${m[2]}`)
      .sort();
    assert.deepEqual(specs, SEARCH_ATTRIBUTES.map((k) => `${k.name}:${searchAttributeCliType(k.type)}`).sort());
    for (const [name] of workerServices) {
      const dependsOn = (services[name] as { depends_on?: Record<string, { condition: string }> }).depends_on ?? {};
      assert.equal(
        dependsOn[jobName]?.condition,
        'service_completed_successfully',
        `${name} starts after the search attributes exist`,
      );
    }
  });
});

describe('docker/prometheus.yml', () => {
  it('scrapes every worker service (and the Temporal server) where it serves metrics', () => {
    const prom = YAML.parse(read('docker/prometheus.yml')) as {
      scrape_configs: Array<{
        job_name: string;
        static_configs?: Array<{ targets: string[] }>;
        dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
      }>;
    };
    const targets: Array<{ service: string; port: number }> = [];
    for (const job of prom.scrape_configs) {
      for (const sc of job.static_configs ?? []) {
        for (const t of sc.targets) {
          const [service, port] = t.split(':');
          targets.push({ service, port: Number(port) });
        }
      }
      for (const dns of job.dns_sd_configs ?? []) {
        assert.equal(dns.type, 'A');
        for (const n of dns.names) targets.push({ service: n, port: dns.port });
      }
    }
    for (const t of targets) {
      const s = services[t.service];
      assert.ok(s, `prometheus target ${t.service} is a compose service`);
      const env = envOf(s);
      const metricsPort = s.image?.startsWith(WORKER_IMAGE)
        ? parseListenAddress('CINDER_METRICS_ADDRESS', env.CINDER_METRICS_ADDRESS)?.port
        : parseListenAddress('PROMETHEUS_ENDPOINT', env.PROMETHEUS_ENDPOINT)?.port;
      assert.equal(t.port, metricsPort, `${t.service} serves metrics on ${metricsPort}, scraped on ${t.port}`);
    }
    for (const [name] of workerServices)
      assert.ok(
        targets.some((t) => t.service === name),
        `${name} is scraped`,
      );
    // Several scheduler replicas: found through DNS, not one static address.
    assert.ok(
      prom.scrape_configs.some((j) => j.dns_sd_configs?.some((d) => d.names.includes('cinder-scheduler'))),
      'every scheduler replica is scraped',
    );
  });
});

/** Dockerfile instructions by stage, continuation lines joined. */
function dockerfileStages(text: string) {
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Array<{ name: string; from: string; instructions: Array<{ op: string; args: string }> }> = [];
  for (const line of lines) {
    const [op, ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(m, line);
      stages.push({ name: m[2] ?? String(stages.length), from: m[1], instructions: [] });
    } else {
      assert.ok(stages.length > 0, `${line} before FROM`);
      stages[stages.length - 1].instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

describe('docker/Dockerfile', () => {
  const stages = dockerfileStages(read('docker/Dockerfile'));
  const byName = new Map(stages.map((s) => [s.name, s]));
  const final = stages[stages.length - 1];
  /** The stage and its ancestors (FROM another stage). */
  const lineage = (name: string): typeof stages => {
    const s = byName.get(name);
    return s ? [s, ...lineage(s.from)] : [];
  };
  const runs = (name: string) =>
    lineage(name).flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
  const copiesFrom = (stage: typeof final) =>
    stage.instructions
      .filter((i) => i.op === 'COPY' && /--from=/.test(i.args))
      .map((i) => {
        const m = /--from=(\S+)\s+(\S+)\s+(\S+)/.exec(i.args)!;
        return { from: m[1], src: m[2], dst: m[3] };
      });
  const finalEnv = Object.fromEntries(
    lineage(final.name)
      .flatMap((s) => s.instructions.filter((i) => i.op === 'ENV'))
      .flatMap((i) => [...i.args.matchAll(/([A-Z_][A-Z0-9_]*)=(\S+)/g)].map((m) => [m[1], m[2]])),
  );

  it('builds on a pinned glibc Node 20 image', () => {
    for (const s of stages) {
      if (byName.has(s.from)) continue;
      assert.match(
        s.from,
        /^node:20\.\d+\.\d+-(bookworm|bullseye)(-slim)?$/,
        `${s.name}: ${s.from} is an exact glibc Node 20 tag`,
      );
    }
  });

  it('runs as a non-root user', () => {
    const users = lineage(final.name).flatMap((s) => s.instructions.filter((i) => i.op === 'USER').map((i) => i.args));
    assert.ok(users.length > 0, 'the final stage sets USER');
    assert.doesNotMatch(users[0], /^(root|0)(:|$)/, `USER ${users[0]}`);
  });

  it('ships production dependencies only (npm ci --omit=dev), built where the native toolchain is', () => {
    const nodeModules = copiesFrom(final).find((c) => c.src.endsWith('/node_modules'));
    assert.ok(nodeModules, 'node_modules is copied from a build stage');
    const stageRuns = runs(nodeModules.from);
    assert.ok(
      stageRuns.some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
      `${nodeModules.from} runs npm ci --omit=dev`,
    );
    const toolchain = stageRuns.join(' ');
    for (const tool of ['python3', 'make', 'g++'])
      assert.ok(toolchain.includes(tool), `${nodeModules.from} has ${tool} for better-sqlite3`);
    assert.ok(!runs(final.name).some((r) => /\bnpm (ci|install)\b/.test(r)), 'the final stage installs nothing itself');
  });

  it('compiles dist/ and copies the prebuilt workflow bundle the worker is told to use', () => {
    const bundle = finalEnv.CINDER_WORKFLOW_BUNDLE;
    assert.ok(bundle, 'CINDER_WORKFLOW_BUNDLE is set in the image');
    const dist = copiesFrom(final).find((c) => bundle.startsWith(c.dst.replace(/^\.\//, '/app/').replace(/\/?$/, '/')));
    assert.ok(dist, `${bundle} comes from a COPY --from`);
    const buildRuns = runs(dist.from).join('\n');
    assert.match(buildRuns, /tsc -p tsconfig\.build\.json/);
    assert.match(buildRuns, /node dist\/build-bundle\.js dist\/workflow-bundle\.js/);
    for (const stage of stages) {
      for (const r of runs(stage.name)) assert.doesNotMatch(r, /\btsx\b/, `${stage.name} runs no tsx: ${r}`);
    }
    assert.equal(bundle, '/app/dist/workflow-bundle.js');
    for (const key of Object.keys(finalEnv))
      assert.ok(
        key === 'NODE_ENV' || knownEnv.has(key),
        `the image sets ${key}, which the configuration does not read`,
      );
    const cmd = final.instructions.find((i) => i.op === 'CMD');
    assert.deepEqual(JSON.parse(cmd!.args), ['node', 'dist/worker.js']);
  });

  it('.dockerignore keeps local builds and data out and the sources in', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const p of ['node_modules', 'dist', '.data', '.git']) assert.ok(ignored.includes(p), `${p} is ignored`);
    for (const needed of [
      'src',
      'scripts',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ]) {
      assert.ok(!ignored.includes(needed), `${needed} is sent to the build`);
      assert.ok(fs.existsSync(path.join(ROOT, needed)), `${needed} exists`);
    }
  });
});

describe('docs/deploy.md', () => {
  const doc = read('docs/deploy.md');
  it('documents every environment variable the configuration reads, with its file key', () => {
    for (const name of knownEnv) assert.ok(doc.includes(`\`${name}\``), `docs/deploy.md documents ${name}`);
    for (const [name, { setting }] of Object.entries(ENV_SETTINGS)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
      assert.ok(row, `docs/deploy.md has a table row for ${name}`);
      assert.ok(row.includes(`\`${setting}\``), `${name} sets ${setting}: ${row}`);
    }
  });
  it('says how these files are checked', () => {
    assert.ok(doc.includes('test/unit/docker.test.ts'));
    assert.ok(doc.includes('npx tsx scripts/record-histories.ts'));
    assert.ok(doc.includes('temporal worker deployment set-current-version'));
  });
});
