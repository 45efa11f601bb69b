// /health, /v1/models, /metrics, and a client that disconnects mid-stream:
// its sequence is cancelled and its pages freed at once. The server runs
// with --no-cache-reuse, so an idle server holds no KV pages.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { MODEL_ID, client, curl, metrics, startServer, stopAndCheck, waitFor, withTimeout } from './lib/server.mjs';

const T = { timeout: 30000 };
const NAMES = {
  arkv_requests_total: 'counter',
  arkv_prompt_tokens_total: 'counter',
  arkv_generated_tokens_total: 'counter',
  arkv_generated_tokens_per_second: 'gauge',
  arkv_queue_length: 'gauge',
  arkv_live_sequences: 'gauge',
  arkv_retained_sequences: 'gauge',
  arkv_kv_bytes: 'gauge',
  arkv_kv_pool_pages: 'gauge',
  arkv_kv_pool_pages_max: 'gauge',
  arkv_kv_budget_bytes: 'gauge',
};

function assertIdle(m) {
  assert.equal(m.value('arkv_kv_pool_pages'), 0, 'pool pages held while idle');
  assert.equal(m.value('arkv_kv_bytes', { state: 'original' }), 0, 'original KV bytes held while idle');
  assert.equal(m.value('arkv_kv_bytes', { state: 'quantized' }), 0, 'quantized KV bytes held while idle');
  assert.equal(m.value('arkv_live_sequences'), 0);
  assert.equal(m.value('arkv_queue_length'), 0);
}

describe('health, models and metrics', () => {
  let server;
  let openai;
  before(async () => {
    server = await startServer(['--no-cache-reuse']);
    openai = client(server);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  test('/health is 200 {"status":"ok"}', T, async () => {
    const res = await curl(server, 'GET', '/health');
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
  });

  test('/v1/models lists the one model', T, async () => {
    const page = await openai.models.list();
    assert.equal(page.data.length, 1);
    const [m] = page.data;
    assert.equal(m.id, MODEL_ID);
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'arkv');
    assert.ok(Number.isInteger(m.created));
    const raw = JSON.parse((await curl(server, 'GET', '/v1/models')).body);
    assert.equal(raw.object, 'list');
    const one = await openai.models.retrieve(MODEL_ID).catch((e) => e);
    // Retrieval by id is not in the contract; if the server has it, it must agree.
    if (!(one instanceof Error)) assert.equal(one.id, MODEL_ID);
  });

  test('/metrics is Prometheus text with every contract name, idle at start', T, async () => {
    const m = await metrics(server);
    assert.match(m.contentType ?? '', /^text\/plain; ?version=0\.0\.4/);
    for (const [name, type] of Object.entries(NAMES)) {
      assert.equal(m.types.get(name), type, `# TYPE of ${name}`);
      if (name !== 'arkv_requests_total') assert.ok(m.has(name), `no sample of ${name}`);
    }
    assert.ok(m.has('arkv_kv_bytes', { state: 'original' }));
    assert.ok(m.has('arkv_kv_bytes', { state: 'quantized' }));
    assert.ok(m.value('arkv_kv_pool_pages_max') > 0);
    assert.ok(m.value('arkv_kv_budget_bytes') > 0);
    for (const s of m.samples) assert.ok(Number.isFinite(s.value), `${s.name} = ${s.value}`);
    assertIdle(m);
  });

  test('counters move by exactly what a request used', T, async () => {
    const before = await metrics(server);
    const r = await openai.completions.create({ model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 7 });
    const m = await metrics(server);
    const delta = (name, labels) => m.value(name, labels) - (before.has(name, labels) ? before.value(name, labels) : 0);
    assert.equal(delta('arkv_prompt_tokens_total'), r.usage.prompt_tokens);
    assert.equal(delta('arkv_generated_tokens_total'), 7);
    assert.equal(delta('arkv_requests_total', { endpoint: '/v1/completions', code: '200' }), 1);
    assertIdle(m);
  });

  test('a client that disconnects mid-stream: cancelled, pages freed at once', T, async () => {
    const before = await metrics(server);
    const controller = new AbortController();
    // Greedy "Once upon a time" runs past 1500 tokens without an end token:
    // seconds of work that only a cancellation ends early.
    const stream = await openai.completions.create(
      { model: MODEL_ID, prompt: 'Once upon a time', max_tokens: 1500, temperature: 0, stream: true },
      { signal: controller.signal });
    let chunks = 0;
    let during = null;
    await withTimeout((async () => {
      for await (const chunk of stream) {
        assert.equal(chunk.choices[0].finish_reason, null, 'finished before the disconnect');
        if (++chunks === 3) {
          during = await metrics(server);
          controller.abort();
          break;  // chunks already received would still be delivered
        }
      }
    })(), 20000, 'reading the stream');
    assert.equal(chunks, 3, 'the stream ended before the disconnect');
    assert.equal(during.value('arkv_live_sequences'), 1, 'the stream was not live while being read');
    assert.ok(during.value('arkv_kv_pool_pages') > 0, 'a live stream holds no pages');
    const idle = await waitFor(async () => {
      const m = await metrics(server);
      return m.value('arkv_live_sequences') === 0 && m.value('arkv_kv_pool_pages') === 0 ? m : null;
    }, 1000, 'pages freed after the disconnect');
    assertIdle(idle);
    const generated = idle.value('arkv_generated_tokens_total') - before.value('arkv_generated_tokens_total');
    assert.ok(generated < 1000, `${generated} tokens generated for a client that left after 3`);
  });
});
