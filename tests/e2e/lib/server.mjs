// Starts and stops `arkv serve` for the end-to-end tests, and the small HTTP
// helpers they share. run.sh sets ARKV_BIN and ARKV_MODEL.
//
// Every server is started on 127.0.0.1 with --port 0 and reports its port on
// stdout (serve-contract.md). A server that does not come up, or does not
// exit after SIGTERM, fails the test within a bounded time; servers still
// alive when the test process exits for any reason are killed.
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';

import OpenAI from 'openai';

const execFileAsync = promisify(execFile);

export const ARKV_BIN = mustEnv('ARKV_BIN');
export const MODEL = mustEnv('ARKV_MODEL');
// The served model id: the GGUF file name without directory and .gguf.
export const MODEL_ID = path.basename(MODEL).replace(/\.gguf$/, '');

const LISTENING = /^arkv serve: listening on http:\/\/([^:\s]+):(\d+)$/;
const STDERR_KEEP = 64 * 1024;
const live = new Set();

// Whatever happens to this process, no server outlives it.
function killAll() {
  for (const proc of live) proc.kill('SIGKILL');
}
process.on('exit', killAll);
for (const [signal, number] of [['SIGTERM', 15], ['SIGINT', 2], ['SIGHUP', 1]]) {
  process.on(signal, () => {
    killAll();
    process.exit(128 + number);
  });
}

function mustEnv(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the tests through tests/e2e/run.sh`);
  return v;
}

// Resolves with the running server; rejects (and kills the process) when it
// exits early or has not printed its address within timeoutMs.
export function startServer(extraArgs = [], { timeoutMs = 20000, model = MODEL } = {}) {
  const args = ['serve', '-m', model, '--host', '127.0.0.1', '--port', '0', '-t', '1', ...extraArgs];
  const proc = spawn(ARKV_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  const server = {
    proc,
    pid: proc.pid,
    args,
    stdoutLines: [],
    stderrText: '',
    exited: null, // {code, signal} once the process has exited
  };
  const exitPromise = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      live.delete(proc);
      server.exited = { code, signal };
      resolve(server.exited);
    });
  });
  server.exitPromise = exitPromise;
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (d) => {
    server.stderrText = (server.stderrText + d).slice(-STDERR_KEEP);
  });

  // Stops the server with SIGTERM; SIGKILL and an error when it has not
  // exited within timeoutMs. Resolves with {code, signal}.
  server.stop = async (stopTimeoutMs = 10000) => {
    if (!server.exited) proc.kill('SIGTERM');
    const result = await withTimeout(exitPromise, stopTimeoutMs).catch(() => null);
    if (!result) {
      proc.kill('SIGKILL');
      await exitPromise;
      throw new Error(`arkv serve (pid ${proc.pid}) did not exit within ${stopTimeoutMs} ms of ` +
                      `SIGTERM; killed.\n${server.tail()}`);
    }
    return result;
  };
  server.tail = () => `--- server stderr (last lines) ---\n${server.stderrText.split('\n').slice(-30).join('\n')}`;

  return new Promise((resolve, reject) => {
    let buffered = '';
    let done = false;
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      proc.kill('SIGKILL');
      reject(new Error(`arkv ${args.join(' ')}: ${why}\n${server.tail()}`));
    };
    const timer = setTimeout(() => fail(`no "listening" line on stdout within ${timeoutMs} ms`),
                             timeoutMs);
    proc.on('error', (e) => fail(`could not start: ${e.message}`));
    exitPromise.then((r) => fail(`exited before listening (code ${r.code}, signal ${r.signal})`));
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      buffered += d;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        server.stdoutLines.push(line);
        const m = LISTENING.exec(line);
        if (m && !done) {
          done = true;
          clearTimeout(timer);
          server.host = m[1];
          server.port = Number(m[2]);
          server.url = `http://${m[1]}:${m[2]}`;
          resolve(server);
        }
      }
    });
  });
}

export function withTimeout(promise, ms, what = 'operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The official client against `server`; never retries, so that each error
// reaches the test as the server sent it.
export function client(server, { apiKey = 'unused', timeoutMs = 20000 } = {}) {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: timeoutMs });
}

// One raw HTTP exchange through curl: {status, headers (lower-case names;
// the last value of each), body (string)}. `body` is sent as given.
export async function curl(server, method, urlPath, { body, headers = {}, timeoutS = 20 } = {}) {
  const args = ['-sS', '-i', '--max-time', String(timeoutS), '-X', method];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  args.push(`${server.url}${urlPath}`);
  const { stdout } = await execFileAsync('curl', args, { maxBuffer: 16 << 20 });
  return parseHttp(stdout);
}

export function parseHttp(raw) {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no HTTP header block in curl output: ${raw.slice(0, 200)}`);
  const head = raw.slice(0, split).split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(head[0])?.[1]);
  const headers = {};
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers, body: raw.slice(split + 4) };
}

// GET /metrics parsed: {samples: [{name, labels, value}], types: Map from
// metric name to its declared type, contentType, text}, with value(name,
// labels) summing the samples of `name` whose labels include `labels`.
export async function metrics(server, { headers = {} } = {}) {
  const res = await fetch(`${server.url}/metrics`, { headers, signal: AbortSignal.timeout(10000) });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return parseMetrics(await res.text(), res.headers.get('content-type'));
}

export function parseMetrics(text, contentType = null) {
  const samples = [];
  const types = new Map();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(line)}`);
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  const matching = (name, want) => samples.filter(
    (s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
  return {
    samples, types, contentType, text,
    has: (name, labels = {}) => matching(name, labels).length > 0,
    // Sum of the matching samples; NaN when none matches, so that a missing
    // metric never passes for a zero.
    value: (name, labels = {}) => {
      const found = matching(name, labels);
      return found.length ? found.reduce((a, s) => a + s.value, 0) : NaN;
    },
  };
}

// Prompt token count from `arkv tokenize` (BOS as the vocabulary asks), a
// code path independent of the server's own usage numbers.
export async function tokenCount(text) {
  const { stdout } = await execFileAsync(ARKV_BIN, ['tokenize', '-m', MODEL, '-p', text],
                                         { timeout: 20000 });
  return stdout.trim().split(/\s+/).filter((s) => s !== '').length;
}

// The ChatML rendering the contract prescribes for a model without a chat
// template: each message as <|im_start|>ROLE\nCONTENT<|im_end|>\n, then the
// generation prompt.
export function chatml(messages) {
  return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') +
         '<|im_start|>assistant\n';
}

// Polls `check` (async, returns truthy when satisfied) every 50 ms until it
// holds or timeoutMs passes; returns the last value.
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Stops `server` and checks what the contract asks of a clean shutdown: exit
// status 0 after SIGTERM, and nothing on stdout but the one "listening" line.
export async function stopAndCheck(server) {
  const r = await server.stop();
  if (r.code !== 0) {
    throw new Error(`arkv serve exited with code ${r.code} signal ${r.signal} after SIGTERM, ` +
                    `expected 0\n${server.tail()}`);
  }
  if (server.stdoutLines.length !== 1) {
    throw new Error(`arkv serve printed ${server.stdoutLines.length} lines on stdout, expected ` +
                    `only the listening line: ${JSON.stringify(server.stdoutLines.slice(0, 5))}`);
  }
}
