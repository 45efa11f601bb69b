// POST /v1/completions through the official openai client: plain and
// streamed answers, usage, stop strings, max_tokens, seeds, logprobs and the
// per-request KV policy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BadRequestError } from 'openai';

import { MODEL_ID, client, startServer, stopAndCheck, tokenCount } from './lib/server.mjs';

const PROMPT = 'Once upon a time';
const T = { timeout: 30000 };

describe('completions', () => {
  let server;
  let openai;
  before(async () => {
    server = await startServer();
    openai = client(server);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  const greedy = (extra = {}) =>
    openai.completions.create({ model: MODEL_ID, prompt: PROMPT, temperature: 0, max_tokens: 16, ...extra });

  async function streamed(params) {
    const stream = await openai.completions.create({ model: MODEL_ID, stream: true, ...params });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  test('a plain answer has the fields OpenAI defines and honest usage', T, async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await greedy();
    assert.match(r.id, /^cmpl-./);
    assert.equal(r.object, 'text_completion');
    assert.equal(r.model, MODEL_ID);
    assert.ok(Number.isInteger(r.created) && Math.abs(r.created - before) <= 60,
              `created ${r.created} is not a Unix time near ${before}`);
    assert.equal(r.choices.length, 1);
    const c = r.choices[0];
    assert.equal(c.index, 0);
    assert.equal(typeof c.text, 'string');
    assert.ok(c.text.length > 0, 'empty completion');
    assert.equal(c.finish_reason, 'length');
    assert.equal(r.usage.prompt_tokens, await tokenCount(PROMPT));
    assert.equal(r.usage.completion_tokens, 16);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 16);
  });

  test('greedy answers repeat, and a stream carries the same text', T, async () => {
    const a = await greedy();
    const b = await greedy();
    assert.equal(b.choices[0].text, a.choices[0].text);
    const chunks = await streamed({ prompt: PROMPT, temperature: 0, max_tokens: 16,
                                    stream_options: { include_usage: true } });
    const usageChunk = chunks.at(-1);
    const textChunks = chunks.slice(0, -1);
    assert.ok(textChunks.length >= 2, `only ${textChunks.length} text chunks`);
    for (const ch of textChunks) {
      assert.equal(ch.object, 'text_completion');
      assert.match(ch.id, /^cmpl-./);
      assert.equal(ch.id, textChunks[0].id, 'one id for the whole stream');
      assert.equal(ch.choices.length, 1);
    }
    assert.equal(textChunks.map((ch) => ch.choices[0].text).join(''), a.choices[0].text);
    assert.equal(textChunks.at(-1).choices[0].finish_reason, 'length');
    for (const ch of textChunks.slice(0, -1)) assert.equal(ch.choices[0].finish_reason, null);
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(usageChunk.usage, a.usage);
  });

  test('a stream without include_usage ends with a finish_reason and no usage chunk', T, async () => {
    const chunks = await streamed({ prompt: PROMPT, temperature: 0, max_tokens: 5 });
    assert.ok(chunks.length >= 1);
    for (const ch of chunks) assert.equal(ch.choices.length, 1, 'a chunk without its choice');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
  });

  test('a stop string ends the text before it with finish_reason stop', T, async () => {
    const full = (await greedy({ max_tokens: 48 })).choices[0].text;
    // A stop string from the middle of the greedy answer; the answer with it
    // is the greedy text up to its first occurrence.
    const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 4);
    const cut = full.indexOf(stop);
    assert.ok(stop.length === 4 && cut > 0, `greedy text too short for the test: ${JSON.stringify(full)}`);
    const r = await greedy({ max_tokens: 48, stop: ['\u00a7never\u00a7', stop] });
    assert.equal(r.choices[0].text, full.slice(0, cut));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.ok(r.usage.completion_tokens < 48, `${r.usage.completion_tokens} tokens after a stop`);

    const chunks = await streamed({ prompt: PROMPT, temperature: 0, max_tokens: 48, stop });
    assert.equal(chunks.map((ch) => ch.choices[0]?.text ?? '').join(''), full.slice(0, cut));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('max_tokens 1 gives one token and finish_reason length', T, async () => {
    const r = await greedy({ max_tokens: 1 });
    assert.equal(r.usage.completion_tokens, 1);
    assert.equal(r.choices[0].finish_reason, 'length');
  });

  test('the same seed repeats a sampled text, other seeds change it', T, async () => {
    const sample = async (seed) =>
      (await greedy({ temperature: 1.0, seed, max_tokens: 32 })).choices[0].text;
    const first = await sample(1234);
    assert.equal(await sample(1234), first);
    // Three other seeds all giving the same 32 sampled tokens would mean the
    // seed is ignored (or sampling is greedy).
    const others = [await sample(1), await sample(2), await sample(99)];
    assert.ok(others.some((t) => t !== first), `seeds 1, 2, 99 and 1234 gave one text: ${first}`);
  });

  test('logprobs: one entry per token, the chosen token among its alternatives', T, async () => {
    const r = await greedy({ max_tokens: 8, logprobs: 3 });
    const c = r.choices[0];
    const lp = c.logprobs;
    assert.ok(lp, 'no logprobs in the answer');
    assert.equal(lp.tokens.length, r.usage.completion_tokens);
    assert.equal(lp.token_logprobs.length, lp.tokens.length);
    assert.equal(lp.top_logprobs.length, lp.tokens.length);
    assert.equal(lp.tokens.join(''), c.text);
    lp.tokens.forEach((tok, i) => {
      const logprob = lp.token_logprobs[i];
      assert.ok(Number.isFinite(logprob) && logprob <= 0, `token ${i} logprob ${logprob}`);
      const alternatives = lp.top_logprobs[i];
      assert.equal(Object.keys(alternatives).length, 3);
      // Greedy: the chosen token is the most likely one.
      const best = Math.max(...Object.values(alternatives));
      assert.ok(tok in alternatives, `token ${JSON.stringify(tok)} not among ${Object.keys(alternatives)}`);
      assert.ok(Math.abs(alternatives[tok] - logprob) < 1e-4);
      assert.ok(Math.abs(best - logprob) < 1e-4, `greedy token ${i} is not the most likely`);
    });
  });

  test('characters beyond ASCII arrive whole, streamed and plain', T, async () => {
    // Hot sampling reaches a few multi-byte characters within a few seeds
    // (stories260K has tokens for some, such as curly quotes, and byte
    // tokens for the rest).
    const hot = { temperature: 2, top_k: 0, top_p: 1, min_p: 0, max_tokens: 300 };
    let found = null;
    for (let seed = 1; seed <= 12 && !found; ++seed) {
      const text = (await greedy({ ...hot, seed })).choices[0].text;
      if (/[^\x00-\x7f]/.test(text)) found = { seed, text };
    }
    assert.ok(found, 'no seed in 1..12 gave a character beyond ASCII: choose another prompt');
    assert.ok(!found.text.includes('\ufffd'), `a replacement character in ${JSON.stringify(found.text)}`);
    const chunks = await streamed({ prompt: PROMPT, ...hot, seed: found.seed });
    const deltas = chunks.map((ch) => ch.choices[0]?.text ?? '');
    assert.equal(deltas.join(''), found.text);
    for (const d of deltas) assert.ok(!d.includes('\ufffd'), `a delta with a broken character: ${JSON.stringify(d)}`);
  });

  test('per-request kv_policy: full and arkv with a small budget both answer', T, async () => {
    // Longer than the budgets below, so that the policies have to act.
    const long = `${PROMPT} there was a little girl who loved to play in the park with her dog. `.repeat(4);
    assert.ok(await tokenCount(long) > 80);
    for (const extra of [{ kv_policy: 'full' }, { kv_policy: 'arkv', kv_budget: 40 },
                         { kv_policy: 'arkv', kv_budget: '128KiB' }, { kv_policy: 'window', kv_budget: 40 }]) {
      const r = await greedy({ prompt: long, max_tokens: 24, ...extra });
      const what = JSON.stringify(extra);
      assert.ok(r.choices[0].text.length > 0, `${what}: empty text`);
      assert.equal(r.usage.prompt_tokens, await tokenCount(long), what);
      assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 24, what);
    }
  });

  test('an unknown kv_policy is a 400 naming kv_policy', T, async () => {
    await assert.rejects(greedy({ kv_policy: 'no-such-policy' }), (e) => {
      assert.ok(e instanceof BadRequestError, `${e}`);
      assert.equal(e.param, 'kv_policy');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
  });
});
