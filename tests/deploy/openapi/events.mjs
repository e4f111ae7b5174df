// Reads audit event lines on stdin and validates each against audit-event.json (draft 2020-12,
// formats checked). Then breaks valid lines in ways the schema must refuse and expects each to
// fail. Exit 1 on any surprise.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const dir = process.argv[2];
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
for (const name of ['process-event', 'access-event', 'security-event'])
  ajv.addSchema(JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8')));
const validate = ajv.compile(JSON.parse(readFileSync(`${dir}/audit-event.json`, 'utf8')));

const lines = readFileSync(0, 'utf8').split('\n').filter((l) => l.length > 0);
let failures = 0;
const types = new Set();
for (const line of lines) {
  const event = JSON.parse(line);
  types.add(event.type);
  if (validate(event)) {
    console.log(`  ok   ${event.type} event valid`);
  } else {
    failures++;
    console.log(`  FAIL ${event.type} event: ${ajv.errorsText(validate.errors)}\n       ${line.slice(0, 300)}`);
  }
}
for (const t of ['process', 'request', 'security'])
  if (!types.has(t)) { failures++; console.log(`  FAIL no ${t} event among the samples`); }

// Each break must be refused.
const breaks = [
  ['an unknown field', (e) => ({ ...e, extra: 1 })],
  ['event_id not a UUID', (e) => ({ ...e, event_id: 'e1' })],
  ['a timestamp that is no date-time', (e) => ({ ...e, timestamp: 'yesterday' })],
  ['an unknown type', (e) => ({ ...e, type: 'other' })],
  ['a required field missing', (e) => { const c = { ...e }; delete c.request_id; return c; }],
  ['http_status a string', (e) => ({ ...e, http_status: '200' })],
];
const valid = lines.map((l) => JSON.parse(l)).filter((e) => e.type !== 'security');
for (const [what, brk] of breaks) {
  const refused = valid.every((e) => !validate(brk(e)));
  if (refused) console.log(`  ok   refused: ${what}`);
  else { failures++; console.log(`  FAIL accepted: ${what}`); }
}
process.exit(failures === 0 ? 0 : 1);
