// A full queue: with --parallel 1 and --queue-size 1, a burst of requests
// gets one running, one waiting and 503 + Retry-After for the rest; the
// accepted ones still finish correctly.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { InternalServerError } from 'openai';

import { MODEL_ID, client, metrics, startServer, stopAndCheck, waitFor } from './lib/server.mjs';

const BURST = 12;
const MAX_TOKENS = 300;

describe('queue limit', () => {
  let server;
  before(async () => {
    server = await startServer(['--parallel', '1', '--queue-size', '1', '--no-cache-reuse']);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  // One streamed completion over plain fetch: {status, headers, body}.
  async function rawStream() {
    const res = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: MAX_TOKENS,
                             temperature: 0, stream: true }),
      signal: AbortSignal.timeout(25000),
    });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  test('beyond --queue-size: 503 server_error with Retry-After', { timeout: 40000 }, async () => {
    const openai = client(server);
    const viaClient = () => openai.completions.create(
      { model: MODEL_ID, prompt: 'Once upon a time', max_tokens: MAX_TOKENS }).then(() => null, (e) => e);
    const raw = Array.from({ length: BURST }, rawStream);
    const clientCalls = [viaClient(), viaClient()];
    const answers = await Promise.all(raw);
    const clientErrors = await Promise.all(clientCalls);

    const refused = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    assert.equal(refused.length + served.length, BURST,
                 `statuses ${answers.map((a) => a.status).join(',')}`);
    assert.ok(refused.length >= BURST - 4, `only ${refused.length} of ${BURST} refused`);
    assert.ok(served.length >= 1, 'nothing served');
    for (const a of refused) {
      const retryAfter = a.headers.get('retry-after');
      assert.ok(retryAfter !== null && /^\d+$/.test(retryAfter), `Retry-After: ${retryAfter}`);
      assert.match(a.headers.get('content-type') ?? '', /^application\/json/);
      const err = JSON.parse(a.body).error;
      assert.equal(err.type, 'server_error');
      assert.equal(typeof err.message, 'string');
    }
    for (const a of served) {
      assert.match(a.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.ok(a.body.endsWith('data: [DONE]\n\n'), `a served stream ends ${JSON.stringify(a.body.slice(-40))}`);
      const events = a.body.split('\n\n').filter((e) => e !== '').slice(0, -1).map((e) => JSON.parse(e.slice(6)));
      assert.equal(events.at(-1).choices[0].finish_reason, 'length');
    }
    // The client sees the 503 as an InternalServerError (it would retry it
    // after Retry-After if allowed to).
    const rejected = clientErrors.filter((e) => e !== null);
    assert.ok(rejected.length >= 1, 'both client calls got in');
    for (const e of rejected) {
      assert.ok(e instanceof InternalServerError, `${e}`);
      assert.equal(e.status, 503);
    }

    const m = await waitFor(async () => {
      const s = await metrics(server);
      return s.value('arkv_live_sequences') === 0 ? s : null;
    }, 15000, 'the server going idle');
    assert.equal(m.value('arkv_queue_length'), 0);
    assert.equal(m.value('arkv_kv_pool_pages'), 0);
    assert.equal(m.value('arkv_requests_total', { code: '503' }), refused.length + rejected.length);
  });

  test('once the burst is over, requests are served again', { timeout: 20000 }, async () => {
    const a = await rawStream();
    assert.equal(a.status, 200);
  });
});
