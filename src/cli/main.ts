/** `cinder-temporal <command>`: the project's command line. */
import path from 'node:path';
import { devServerPorts, loadConfig } from '../config/config';
import { escapeLines } from '../domain/text';
import { startTracing, type Tracing } from '../observability/tracing';
import { startDevServer } from '../dev-server/dev-server';
import { cachedCliPath, resolveTemporalCli, TEMPORAL_CLI_VERSION } from '../dev-server/temporal-cli';
import { resolveTemporalServer, TEMPORAL_SERVER_VERSION } from '../dev-server/temporal-server';
import { runCluster } from './cluster-command';
import { runDemo } from './demo';
import { CliFailure, describeFailure, EXIT, UsageError, type Command } from './errors';
import { faultCommands } from './fault-commands';
import { volumeCommands } from './volume-commands';

export { describeFailure, UsageError } from './errors';

// Human-readable lines may carry stored text: control characters are shown escaped, never raw.
const out = (line: string) => process.stdout.write(escapeLines(line) + '\n');
const err = (line: string) => process.stderr.write(escapeLines(line) + '\n');

export const COMMANDS: Record<string, Command> = {
  ...volumeCommands(),
  ...faultCommands(out),
  demo: {
    summary: 'start the local server and workers, run a few creates (one rescheduled), print a summary',
    usage: 'cinder-temporal demo',
    run: () => runDemo(out),
  },
  'dev-server': {
    summary:
      'run the local Temporal dev server (UI, persistent SQLite, search attributes, one-machine dynamic config) until Ctrl-C',
    usage: 'cinder-temporal dev-server [--port <port>] [--ui-port <port>] [--db-filename .data/temporal.db]',
    help: [
      'Listens where npm start does: CINDER_DEV_SERVER_PORT (default 7233; the workers and the CLI connect there',
      'too) and CINDER_DEV_SERVER_UI_PORT (default: port + 1000). --port and --ui-port override them for this run.',
      'npm start reuses a server already running on that port, so its UI links keep working after it exits.',
    ].join('\n'),
    run: async (args) => {
      const config = loadConfig();
      const opt = (name: string) => {
        const i = args.indexOf(name);
        if (i < 0) return undefined;
        if (!args[i + 1]) throw new UsageError(`${name} needs a value`);
        return args[i + 1];
      };
      const configured = devServerPorts(config);
      const port = Number(opt('--port') ?? configured.port);
      const uiPort = Number(opt('--ui-port') ?? (opt('--port') ? port + 1000 : configured.uiPort));
      if (!Number.isInteger(port) || !Number.isInteger(uiPort))
        throw new UsageError('--port and --ui-port take whole numbers');
      const server = await startDevServer({
        ip: configured.ip,
        port,
        uiPort,
        dbFilename: path.resolve(opt('--db-filename') ?? path.join(config.data_dir, 'temporal.db')),
        progress: out,
      });
      out(`Temporal dev server at ${server.address}; UI ${server.uiUrl}. Ctrl-C stops it.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.stop();
      return 0;
    },
  },
  'ensure-temporal': {
    summary: `find or build the Temporal CLI ${TEMPORAL_CLI_VERSION} (TEMPORAL_CLI_PATH, PATH, cache, go install)`,
    usage: 'cinder-temporal ensure-temporal',
    run: async () => {
      const cli = await resolveTemporalCli(err);
      if (!cli) {
        err(
          `no Temporal CLI and no Go toolchain: install one, set TEMPORAL_CLI_PATH, or let the SDK download it (needs internet). Cache: ${cachedCliPath()}`,
        );
        return 1;
      }
      out(`${cli.path} (${cli.source})`);
      return 0;
    },
  },
  'ensure-temporal-server': {
    summary: `find or build the Temporal server ${TEMPORAL_SERVER_VERSION} and temporal-sql-tool (TEMPORAL_SERVER_PATH, PATH, cache, go install)`,
    usage: 'cinder-temporal ensure-temporal-server',
    run: async () => {
      const found = await resolveTemporalServer(err);
      out(`${found.server} ${found.sqlTool} (${found.source})`);
      return 0;
    },
  },
  cluster: {
    summary:
      'run a two-node Temporal cluster on a throw-away PostgreSQL with the workers on it (and the UI with --ui) until Ctrl-C',
    usage: 'cinder-temporal cluster [--ui] [--ui-port <port>]',
    help: [
      "Everything is local and throw-away: PostgreSQL (Temporal's two databases and the volume database), two",
      'temporal-server processes with every service, two scheduler workers and a volume worker per backend (the',
      "configured ones, else the demo's two; their pool files go in the cluster's folder). It prints the node",
      'addresses and a file to source in another shell so the other commands use the cluster. Ctrl-C stops it all.',
      'The server is built with go install on first use (see ensure-temporal-server); --ui builds the UI server too.',
    ].join('\n'),
    run: (args) => runCluster(args, out, err),
  },
  worker: {
    summary: 'run worker roles: scheduler, volume --backend host@backend (default: all)',
    usage: 'cinder-temporal worker [--demo] [scheduler] [volume --backend host@backend]...',
    run: async (args) => {
      // Loaded only here: the worker SDK (native core) is not needed by the other commands. A
      // require, not import(): the compiled CommonJS dist/ resolves '../worker' without an extension.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { main: workerMain } = require('../worker') as typeof import('../worker');
      await workerMain(args);
      return 0;
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: cinder-temporal <command> [options]   (cinder-temporal <command> --help for more)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function run(argv: string[]): Promise<void> {
  const [name, ...args] = argv;
  let code: number;
  const command = name ? COMMANDS[name] : undefined;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out(usage());
    code = name ? 0 : 2;
  } else if (!command) {
    err(`unknown command '${name}'\n${usage()}`);
    code = 2;
  } else if (args.includes('--help') || args.includes('-h')) {
    out(`usage: ${command.usage}\n\n${command.summary}${command.help ? `\n\n${command.help}` : ''}`);
    code = 0;
  } else {
    // Traces of the CLI's own calls (a create's start span) when an OTLP endpoint is configured; a
    // configuration mistake is the command's to report.
    let tracing: Tracing | null = null;
    try {
      tracing = startTracing(loadConfig().tracing, 'cinder-temporal-cli');
    } catch {
      tracing = null;
    }
    try {
      code = await command.run(args);
    } catch (e) {
      const failure = describeFailure(e);
      // A wrong invocation gets the usage; refused input (InvalidInput...) only its reason.
      if (e instanceof UsageError) err(e.type === 'UsageError' ? `${e.message}\nusage: ${command.usage}` : e.message);
      else if (failure.code === EXIT.FAILED && !(e instanceof CliFailure))
        err(`cinder-temporal ${name}: ${(e as Error)?.stack ?? e}`);
      else err(`${failure.type === 'ConfigError' ? 'configuration error: ' : 'ERROR: '}${failure.message}`);
      if (args.includes('--json'))
        out(
          JSON.stringify({
            error: {
              type: failure.type,
              message: failure.message,
              ...(failure.option ? { option: failure.option } : {}),
            },
          }),
        );
      code = failure.code;
    } finally {
      await tracing?.shutdown().catch(() => undefined);
    }
  }
  process.exit(code);
}

if (require.main === module) void run(process.argv.slice(2));
