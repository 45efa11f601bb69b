// Start-up errors, signals, and the raw server-sent-event framing as curl
// sees it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { ARKV_BIN, MODEL, MODEL_ID, client, curl, startServer, stopAndCheck, withTimeout } from './lib/server.mjs';

const T = { timeout: 30000 };

// Runs `arkv serve ARGS` expecting it to fail at start: {code, stdout, stderr}.
function failedStart(args, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const proc = spawn(ARKV_BIN, ['serve', '--host', '127.0.0.1', '--port', '0', ...args],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`arkv serve ${args.join(' ')} still running after ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('start-up errors', () => {
  test('an unknown --chat-template is a start-up error naming the flag', T, async () => {
    const r = await failedStart(['-m', MODEL, '--chat-template', 'no-such-template']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--chat-template/);
    assert.equal(r.stdout, '', 'printed a listening line anyway');
  });

  test('a missing model file is a clear error, not a hang', T, async () => {
    const r = await failedStart(['-m', '/nonexistent/model.gguf']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /nonexistent\/model\.gguf/);
  });

  test('no model at all is refused', T, async () => {
    const r = await failedStart([]);
    assert.notEqual(r.code, 0);
    assert.ok(r.stderr.length > 0);
  });
});

describe('signals', () => {
  test('SIGINT stops an idle server with status 0', T, async () => {
    const server = await startServer();
    try {
      server.proc.kill('SIGINT');
      const r = await withTimeout(server.exitPromise, 10000, 'exit after SIGINT');
      assert.equal(r.code, 0, server.tail());
    } finally {
      await server.stop().catch(() => {});
    }
  });

  test('SIGTERM during a stream cancels it and exits 0', T, async () => {
    const server = await startServer(['--chat-template', 'chatml']);
    try {
      const openai = client(server);
      const stream = await openai.chat.completions.create({
        model: MODEL_ID, messages: [{ role: 'user', content: 'Once upon a time' }],
        max_tokens: 1500, temperature: 0, stream: true,
      });
      let chunks = 0;
      const reading = withTimeout((async () => {
        for await (const _ of stream) {
          if (++chunks === 2) server.proc.kill('SIGTERM');
        }
      })(), 15000, 'the stream after SIGTERM').catch((e) => e);
      const r = await server.stop(10000);
      assert.equal(r.code, 0, server.tail());
      // The stream ends (cleanly or with a connection error), never hangs.
      const outcome = await reading;
      assert.ok(!(outcome instanceof Error) || !/timed out/.test(outcome.message), `${outcome}`);
      assert.ok(chunks < 1500, 'the running request was not cancelled');
    } finally {
      await server.stop().catch(() => {});
    }
  });
});

describe('raw server-sent events', () => {
  let server;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  // Every event is one `data: JSON` line and a blank line; the last is [DONE].
  function events(res) {
    assert.equal(res.status, 200, res.body);
    assert.match(res.headers['content-type'] ?? '', /^text\/event-stream/);
    assert.match(res.body, /^(data: [^\n]+\n\n)+$/, 'not a sequence of "data: ...\\n\\n" events');
    const data = res.body.split('\n\n').filter((e) => e !== '').map((e) => e.slice('data: '.length));
    assert.equal(data.at(-1), '[DONE]');
    return data.slice(0, -1).map((d) => JSON.parse(d));
  }

  test('chat: role, content, finish_reason, usage, [DONE]', T, async () => {
    const res = await curl(server, 'POST', '/v1/chat/completions', {
      body: JSON.stringify({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 6,
                             stream: true, stream_options: { include_usage: true } }),
    });
    const chunks = events(res);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 6);
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'length');
    for (const c of chunks) assert.equal(c.object, 'chat.completion.chunk');
  });

  test('completions: text chunks, finish_reason, [DONE]', T, async () => {
    const res = await curl(server, 'POST', '/v1/completions', {
      body: JSON.stringify({ model: MODEL_ID, prompt: 'Once', max_tokens: 4, stream: true }),
    });
    const chunks = events(res);
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
    for (const c of chunks) assert.equal(c.object, 'text_completion');
  });
});
