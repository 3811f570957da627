// What the web process keeps of an element put into the page and taken out again (a diagnostic,
// not a test): the app (a debug build, whose web view lets WebKit's remote inspector in) is
// started with WEBKIT_INSPECTOR_HTTP_SERVER on a free loopback port, and through the inspector
// the page puts a form of six fields of one kind into the document, lets it render, and removes
// it — `--cycles` times per round, three rounds — then the inspector runs a full garbage
// collection. The web process's PSS is read from /proc after each round and after the
// collection. It shows where the memory soak's growth is (docs/APP.md, "A whole day"): WebKitGTK
// 2.50 keeps memory for elements that were rendered and removed, collected or not — ≈ 2.4 kB per
// text field, ≈ 0.7–0.9 kB per checkbox or span.
//
//   FRONTDESK_APP_BIN=…/debug/frontdesk-app DISPLAY=… node e2e/text-field-probe.mjs \
//     [--kinds text,checkbox,span] [--cycles 300]

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { APP, comm, freePort, kb, processTree } from './harness.mjs';

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const KINDS = option('kinds', 'text,checkbox,span').split(',');
const CYCLES = Number(option('cycles', 300));
const FIELD = {
  text: "'<label>f' + i + '<input autocomplete=\"off\"></label>'",
  checkbox: "'<label>f' + i + '<input type=\"checkbox\"></label>'",
  span: "'<label>f' + i + '<span>text ' + i + '</span></label>'",
};
for (const k of KINDS) if (!FIELD[k]) throw new Error(`--kinds: one of ${Object.keys(FIELD).join(', ')}`);
if (!APP) throw new Error('FRONTDESK_APP_BIN names a debug build of the app');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pssMb = (pid, key) => kb(pid, 'smaps_rollup', key) / 1024;

/** One page's inspector session (the inspector server wraps the page in its Target domain). */
async function inspect(address, deadlineMs = 20000) {
  const until = Date.now() + deadlineMs;
  let socket = null;
  while (!socket) {
    try {
      const html = await (await fetch(`http://${address}/`, { signal: AbortSignal.timeout(2000) })).text();
      socket = /Main\.html\?ws=' \+ window\.location\.host \+ '([^']+)'/.exec(html)?.[1] ?? null;
    } catch {
      // Not listening yet.
    }
    if (!socket) {
      if (Date.now() > until) throw new Error(`no inspectable page at ${address} within ${deadlineMs} ms`);
      await sleep(200);
    }
  }
  const ws = new WebSocket(`ws://${address}${socket}`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  let page = null;
  let next = 1;
  const pending = new Map();
  ws.on('message', (data) => {
    const m = JSON.parse(String(data));
    if (m.method === 'Target.targetCreated' && m.params.targetInfo.type === 'page') page = m.params.targetInfo.targetId;
    if (m.method === 'Target.dispatchMessageFromTarget') {
      const inner = JSON.parse(m.params.message);
      pending.get(inner.id)?.(inner);
      pending.delete(inner.id);
    }
  });
  while (!page) {
    if (Date.now() > until) throw new Error('the inspector named no page');
    await sleep(50);
  }
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => reject(new Error(`${method}: no answer within 120 s`)), 120000);
      pending.set(id, (inner) => {
        clearTimeout(timer);
        if (inner.error) reject(new Error(`${method}: ${inner.error.message}`));
        else resolve(inner.result);
      });
      ws.send(JSON.stringify({ id, method: 'Target.sendMessageToTarget', params: { targetId: page, message: JSON.stringify({ id, method, params }) } }));
    });
  return { call, close: () => ws.close() };
}

async function probe(kind) {
  const home = mkdtempSync(join(tmpdir(), 'frontdesk-probe-'));
  const address = `127.0.0.1:${await freePort()}`;
  const app = spawn(APP, [], {
    env: { ...process.env, WEBKIT_INSPECTOR_HTTP_SERVER: address, HOME: home, FRONTDESK_DATA_DIR: join(home, 'data'), FRONTDESK_PRINT_DIR: join(home, 'print'), NO_AT_BRIDGE: '1' },
    stdio: 'ignore',
  });
  try {
    const page = await inspect(address);
    const web = processTree(app.pid).find((p) => comm(p) === 'WebKitWebProces');
    if (!web) throw new Error('no web process under the app');
    const read = () => `${pssMb(web, 'Pss').toFixed(1)} MB (anonymous ${pssMb(web, 'Pss_Anon').toFixed(1)})`;
    const cycle = `(async () => {
      const form = '<form>' + Array.from({ length: 6 }, (_, i) => ${FIELD[kind]}).join('') + '</form>';
      for (let n = 0; n < ${CYCLES}; n++) {
        const d = document.createElement('div');
        d.innerHTML = form;
        document.body.append(d);
        await new Promise((r) => requestAnimationFrame(r));
        d.remove();
      }
      return true;
    })()`;
    await sleep(2000);
    const start = read();
    const rounds = [];
    for (let r = 1; r <= 3; r++) {
      await page.call('Runtime.evaluate', { expression: cycle, awaitPromise: true });
      await sleep(2000);
      rounds.push(read());
    }
    await page.call('Heap.enable');
    await page.call('Heap.gc');
    await sleep(2000);
    console.log(`${kind}: start ${start}; after ${rounds.map((x, i) => `${(i + 1) * CYCLES * 6} fields ${x}`).join('; ')}; after a full collection ${read()}`);
    page.close();
  } finally {
    app.kill('SIGTERM');
    await new Promise((r) => (app.exitCode !== null ? r() : app.once('exit', r)));
    rmSync(home, { recursive: true, force: true });
  }
}

for (const kind of KINDS) await probe(kind);
process.exit(0);
