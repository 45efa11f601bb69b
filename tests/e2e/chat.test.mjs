// POST /v1/chat/completions through the official openai client: plain and
// streamed answers, usage against the ChatML rendering, stop strings,
// max_tokens, seeds, logprobs and the per-request KV policy.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BadRequestError } from 'openai';

import { MODEL_ID, chatml, client, startServer, stopAndCheck, tokenCount } from './lib/server.mjs';

const MESSAGES = [
  { role: 'system', content: 'You tell short stories.' },
  { role: 'user', content: 'Once upon a time' },
];
const T = { timeout: 30000 };

describe('chat completions', () => {
  let server;
  let openai;
  before(async () => {
    server = await startServer();
    openai = client(server);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  const greedy = (extra = {}) => openai.chat.completions.create(
    { model: MODEL_ID, messages: MESSAGES, temperature: 0, max_tokens: 16, ...extra });

  async function streamed(params) {
    const stream = await openai.chat.completions.create({ model: MODEL_ID, stream: true, ...params });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  }

  test('the model has no chat template, so the server says it uses chatml', T, async () => {
    // A line about chatml that a server told to use chatml does not print.
    const forced = await startServer(['--chat-template', 'chatml']);
    await stopAndCheck(forced);
    const chatmlLines = (text) => text.split('\n').filter((l) => /chatml/i.test(l))
      .map((l) => l.replace(/\d+/g, 'N'));
    const notice = chatmlLines(server.stderrText).filter((l) => !chatmlLines(forced.stderrText).includes(l));
    assert.ok(notice.length > 0, `no notice that chat requests use chatml in:\n${server.stderrText}`);
  });

  test('a plain answer has the fields OpenAI defines and honest usage', T, async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await greedy();
    assert.match(r.id, /^chatcmpl-./);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, MODEL_ID);
    assert.ok(Number.isInteger(r.created) && Math.abs(r.created - before) <= 60,
              `created ${r.created} is not a Unix time near ${before}`);
    assert.equal(r.choices.length, 1);
    const c = r.choices[0];
    assert.equal(c.index, 0);
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(c.message.content.length > 0, 'empty answer');
    assert.equal(c.finish_reason, 'length');
    // Independent count: the ChatML text the contract prescribes, through
    // `arkv tokenize`.
    assert.equal(r.usage.prompt_tokens, await tokenCount(chatml(MESSAGES)));
    assert.equal(r.usage.completion_tokens, 16);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 16);
  });

  test('multi-turn history counts every message', T, async () => {
    const messages = [...MESSAGES, { role: 'assistant', content: 'there was a dog.' },
                      { role: 'user', content: 'What did the dog do?' }];
    const r = await greedy({ messages, max_tokens: 4 });
    assert.equal(r.usage.prompt_tokens, await tokenCount(chatml(messages)));
  });

  test('max_completion_tokens limits the answer like max_tokens', T, async () => {
    const r = await openai.chat.completions.create(
      { model: MODEL_ID, messages: MESSAGES, temperature: 0, max_completion_tokens: 3 });
    assert.equal(r.usage.completion_tokens, 3);
    assert.equal(r.choices[0].finish_reason, 'length');
  });

  test('a stream: role first, content deltas, finish_reason, then usage', T, async () => {
    const plain = await greedy();
    const chunks = await streamed({ messages: MESSAGES, temperature: 0, max_tokens: 16,
                                    stream_options: { include_usage: true } });
    const usageChunk = chunks.at(-1);
    const answer = chunks.slice(0, -1);
    assert.ok(answer.length >= 3, `only ${answer.length} chunks`);
    for (const ch of answer) {
      assert.equal(ch.object, 'chat.completion.chunk');
      assert.match(ch.id, /^chatcmpl-./);
      assert.equal(ch.id, answer[0].id, 'one id for the whole stream');
      assert.equal(ch.model, MODEL_ID);
      assert.equal(ch.choices.length, 1);
    }
    assert.equal(answer[0].choices[0].delta.role, 'assistant');
    for (const ch of answer.slice(1)) assert.equal(ch.choices[0].delta.role, undefined);
    const text = answer.map((ch) => ch.choices[0].delta.content ?? '').join('');
    assert.equal(text, plain.choices[0].message.content);
    assert.equal(answer.at(-1).choices[0].finish_reason, 'length');
    for (const ch of answer.slice(0, -1)) assert.equal(ch.choices[0].finish_reason, null);
    assert.deepEqual(usageChunk.choices, []);
    assert.deepEqual(usageChunk.usage, plain.usage);
  });

  test('a stop string ends the answer before it with finish_reason stop', T, async () => {
    const full = (await greedy({ max_tokens: 48 })).choices[0].message.content;
    const mid = Math.floor(full.length / 2);
    const stop = full.slice(mid, mid + 3);
    const cut = full.indexOf(stop);
    assert.ok(stop.length === 3 && cut > 0, `greedy text too short for the test: ${JSON.stringify(full)}`);
    const r = await greedy({ max_tokens: 48, stop });
    assert.equal(r.choices[0].message.content, full.slice(0, cut));
    assert.equal(r.choices[0].finish_reason, 'stop');

    const chunks = await streamed({ messages: MESSAGES, temperature: 0, max_tokens: 48, stop: [stop] });
    assert.equal(chunks.map((ch) => ch.choices[0]?.delta.content ?? '').join(''), full.slice(0, cut));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
  });

  test('the same seed repeats a sampled answer, other seeds change it', T, async () => {
    const sample = async (seed) =>
      (await greedy({ temperature: 0.9, top_p: 0.95, seed, max_tokens: 32 })).choices[0].message.content;
    const first = await sample(77);
    assert.equal(await sample(77), first);
    const others = [await sample(78), await sample(5), await sample(123456)];
    assert.ok(others.some((t) => t !== first), `four seeds gave one answer: ${first}`);
  });

  test('top_k 1 samples greedily whatever the temperature', T, async () => {
    const plain = await greedy();
    const r = await greedy({ temperature: 1.5, top_k: 1, seed: 3 });
    assert.equal(r.choices[0].message.content, plain.choices[0].message.content);
  });

  test('logprobs with top_logprobs: one entry per token, greedy picks the best', T, async () => {
    const r = await greedy({ max_tokens: 8, logprobs: true, top_logprobs: 2 });
    const content = r.choices[0].logprobs?.content;
    assert.ok(Array.isArray(content), 'no logprobs.content');
    assert.equal(content.length, r.usage.completion_tokens);
    assert.equal(content.map((e) => e.token).join(''), r.choices[0].message.content);
    for (const e of content) {
      assert.ok(Number.isFinite(e.logprob) && e.logprob <= 0, `logprob ${e.logprob}`);
      assert.equal(e.top_logprobs.length, 2);
      assert.ok(e.top_logprobs[0].logprob >= e.top_logprobs[1].logprob, 'alternatives not sorted');
      assert.equal(e.top_logprobs[0].token, e.token);
      assert.ok(Math.abs(e.top_logprobs[0].logprob - e.logprob) < 1e-4);
    }
    const without = await greedy({ max_tokens: 2 });
    assert.ok(!without.choices[0].logprobs, 'logprobs sent without being asked for');
  });

  test('per-request kv_policy: full and arkv with a small budget both answer', T, async () => {
    for (const extra of [{ kv_policy: 'full' }, { kv_policy: 'arkv', kv_budget: 40 }]) {
      const r = await greedy({ max_tokens: 12, ...extra });
      assert.ok(r.choices[0].message.content.length > 0, JSON.stringify(extra));
    }
    await assert.rejects(greedy({ kv_policy: 'fullest' }), (e) => {
      assert.ok(e instanceof BadRequestError, `${e}`);
      assert.equal(e.param, 'kv_policy');
      return true;
    });
  });
});
