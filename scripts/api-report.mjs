// The API reports of the package's public entry points (etc/*.api.md), made by api-extractor from
// the built .d.ts files (run `npx tsc -p tsconfig.json` first). One config per entry point:
// api-extractor.json (the package root) and api-extractor.<subpath>.json.
//
//   node scripts/api-report.mjs            check: exits 1, printing the diff, when a report is stale
//                                          or api-extractor warns (test/api-report.test.ts runs this)
//   node scripts/api-report.mjs --local    rewrites the reports (`npm run api`); commit etc/
//   --dist <dir>                           reads the .d.ts files under <dir> instead of dist/src
//                                          (the test's copy with an added export)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';

const REPO = resolve(import.meta.dirname, '..');
const BUILT = join(REPO, 'dist', 'src');

const { values } = parseArgs({ options: { local: { type: 'boolean', default: false }, dist: { type: 'string' } } });
const dist = values.dist ? resolve(values.dist) : BUILT;

const configs = readdirSync(REPO)
  .filter((f) => /^api-extractor(\.[\w-]+)?\.json$/.test(f))
  .sort();

let failed = false;
for (const file of configs) {
  const path = join(REPO, file);
  const configObject = ExtractorConfig.loadFile(path);
  // The entry points are written against dist/src; --dist moves them, and the temp reports with them.
  const entry = configObject.mainEntryPointFilePath.replace('<projectFolder>/dist/src', dist);
  configObject.mainEntryPointFilePath = entry;
  const tempFolder = join(dist, '..', 'api-report');
  configObject.apiReport = { ...configObject.apiReport, reportTempFolder: tempFolder };
  const config = ExtractorConfig.prepare({ configObject, configObjectFullPath: path, packageJsonFullPath: join(REPO, 'package.json') });
  if (!existsSync(config.mainEntryPointFilePath)) {
    console.error(`${file}: ${relative(REPO, config.mainEntryPointFilePath)} does not exist: build first (npx tsc -p tsconfig.json)`);
    failed = true;
    continue;
  }
  const messages = [];
  const result = Extractor.invoke(config, {
    localBuild: values.local,
    messageCallback: (message) => {
      message.handled = true;
      if (message.logLevel !== 'warning' && message.logLevel !== 'error') return;
      // The report-changed notices are said below, with the diff.
      if (/^console-api-report-(changed|copied|not-copied|created)$/.test(message.messageId)) return;
      messages.push(`${message.logLevel}: ${message.formatMessageWithLocation(REPO)}`);
    },
  });
  const reports = config.reportConfigs.map((r) => r.fileName);
  if (result.apiReportChanged) {
    for (const name of reports) {
      const committed = join(config.reportFolder, name);
      const built = join(config.reportTempFolder, name);
      if (values.local) {
        console.log(`${relative(REPO, committed)}: updated; commit it`);
      } else {
        const labels = ['--label', relative(REPO, committed), '--label', `${relative(REPO, committed)} as built`];
        const diff = spawnSync('diff', ['-u', ...labels, committed, built], { encoding: 'utf8' });
        console.error(
          `${relative(REPO, committed)} is stale: the public API of this entry point changed.\n` +
            `If the change is intended, run \`npm run api\` and commit ${relative(REPO, committed)}.\n` +
            (diff.stdout || `compare ${relative(REPO, committed)} with ${relative(REPO, built)}\n`),
        );
      }
    }
  }
  for (const m of messages) console.error(`${file}: ${m}`);
  if (!result.succeeded || messages.length > 0) failed = true;
  else if (!result.apiReportChanged) console.log(`${reports.map((r) => `etc/${r}`).join(', ')}: up to date`);
}
process.exit(failed ? 1 : 0);
