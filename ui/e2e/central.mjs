// A real platform for the end-to-end tests: `frontdesk-central serve --demo` on a loopback
// port (FRONTDESK_CENTRAL_BIN, built by scripts/test-app.sh), its admin API, and a TCP proxy
// that can cut a desk off from it while the platform itself stays up. Nothing waits on a
// fixed sleep, only on conditions with deadlines.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { NOW, freePort, waitFor, waitText } from './harness.mjs';

export const CENTRAL = process.env.FRONTDESK_CENTRAL_BIN;

/** Resolves once `port` on loopback can be bound again (a killed platform's port is free). */
async function portFree(port, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const ok = await new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} stayed busy`);
}

/**
 * A platform with the demo clinic in `dir` (database and admin token there), listening on
 * 127.0.0.1:`port` (0: the OS picks), its clock pinned at `now` (default `NOW`), with `args`
 * added to `serve` (e.g. `--demo-leases`). `kill()` stops the process with SIGKILL and waits
 * for it; `restart()` starts it again on the same port and database; `stop()` is for `t.after`.
 */
export async function startCentral(dir, { port = 0, now = NOW, args = [] } = {}) {
  const central = { dir, port, url: '', code: '', child: null };
  const launch = async () => {
    const child = spawn(
      CENTRAL,
      [
        'serve', '--demo', '--plain-logs',
        '--listen', `127.0.0.1:${central.port}`,
        '--db', join(dir, 'central.db'),
        '--admin-token-file', join(dir, 'admin-token'),
        // The desk's background sync and the tests' own calls must never meet a rate limit.
        '--device-rate', '0', '--public-rate', '0',
        ...args,
      ],
      { env: { ...process.env, FRONTDESK_NOW: now, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    central.child = child;
    let out = '';
    const found = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`frontdesk-central did not start: ${out}`)), 30000);
      child.stdout.on('data', (d) => {
        out += d;
        const url = /listening on (\S+)/.exec(out);
        const code = /enrollment code (\S+)/.exec(out);
        if (url && code) {
          clearTimeout(timer);
          resolve({ url: url[1], code: code[1] });
        }
      });
      child.once('exit', (c) => {
        clearTimeout(timer);
        reject(new Error(`frontdesk-central exited with ${c}: ${out}`));
      });
    });
    // Keep draining stdout so the platform never blocks on a full pipe.
    child.stdout.resume();
    central.url = found.url;
    central.code = found.code;
    central.port = Number(new URL(found.url).port);
  };
  central.kill = async () => {
    const child = central.child;
    if (!child) return;
    central.child = null;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
  };
  central.restart = async () => {
    await central.kill();
    await portFree(central.port);
    await launch();
  };
  central.stop = () => central.kill();
  central.adminToken = () => readFileSync(join(dir, 'admin-token'), 'utf8').trim();
  /** Calls the admin API; the JSON answer (throws on a non-2xx status). */
  central.admin = async (method, path, body) => {
    const resp = await fetch(`${central.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${central.adminToken()}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
    const text = await resp.text();
    if (!resp.ok) throw new Error(`${method} ${path}: ${resp.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  await launch();
  return central;
}

/**
 * A TCP proxy on a loopback port in front of `target` (`host:port`). `cut()` drops every open
 * connection and refuses new ones (the platform is unreachable from whoever goes through the
 * proxy); `mend()` lets them through again. `close()` is for `t.after`.
 */
export async function startProxy(targetPort) {
  const port = await freePort();
  const sockets = new Set();
  let up = true;
  const server = createServer((client) => {
    if (!up) {
      client.destroy();
      return;
    }
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    cut() {
      up = false;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    mend() {
      up = true;
    },
    close() {
      up = false;
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/**
 * From the first-run screen to the signed-in board of a desk enrolled at `url` with `code`:
 * enroll, create the first admin, wait until the status line says online.
 */
export async function enrollDesk(browser, url, code) {
  await (await waitFor(browser, '#enroll-server', 30000)).setValue(url);
  await (await browser.$('#enroll-code')).setValue(code);
  await (await browser.$('#enroll-name')).setValue('E2E');
  await browser.keys(['Enter']);
  await (await waitFor(browser, '#display-name', 30000)).setValue('院长');
  await (await browser.$('#staff-id')).setValue('boss');
  await (await browser.$('#password')).setValue('boss-pass-1');
  await browser.keys(['Enter']);
  await waitFor(browser, '#board .dept');
  await waitText(browser, '#net-status', (s) => s.includes('在线'), 30000);
}
