/**
 * `npm run docs:config`: writes docs/deploy.md's table of settings (between its config-table
 * markers) from the declaration in src/config/config-schema.ts. test/unit/config-docs.test.ts fails
 * when the two differ.
 */
import fs from 'node:fs';
import path from 'node:path';
import { configDocsTable } from '../src/config/config';
import { withTable } from '../src/domain/settings';

const file = path.resolve(__dirname, '..', 'docs', 'deploy.md');
const before = fs.readFileSync(file, 'utf8');
const after = withTable(before, configDocsTable());
if (after !== before) fs.writeFileSync(file, after);
process.stdout.write(`${path.relative(process.cwd(), file)}: ${after === before ? 'up to date' : 'table written'}\n`);
