// Every 400 / 404 / 405 of the contract, through the openai client's error
// classes and through curl for the raw status, headers and body. The server
// runs with a small --ctx-size under the full policy so that a long prompt
// does not fit.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { BadRequestError, NotFoundError } from 'openai';

import { MODEL_ID, client, curl, metrics, startServer, stopAndCheck } from './lib/server.mjs';

const CTX = 64;
const T = { timeout: 30000 };

// An OpenAI error object as the contract writes it; returns it.
function assertErrorBody(res, status, type, param) {
  assert.equal(res.status, status, `status; body ${res.body}`);
  assert.match(res.headers['content-type'] ?? '', /^application\/json/);
  const body = JSON.parse(res.body);
  assert.equal(typeof body.error?.message, 'string', `no error.message in ${res.body}`);
  assert.ok(body.error.message.length > 0);
  if (type) assert.equal(body.error.type, type);
  else assert.ok(typeof body.error.type === 'string' && body.error.type.length > 0, `no error.type in ${res.body}`);
  if (param !== undefined) assert.equal(body.error.param, param);
  assert.ok('code' in body.error, `no error.code in ${res.body}`);
  return body.error;
}

describe('request errors', () => {
  let server;
  let openai;
  before(async () => {
    server = await startServer(['--ctx-size', String(CTX), '--kv-policy', 'full']);
    openai = client(server);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  const chat = { model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4 };
  const completion = { model: MODEL_ID, prompt: 'Hi', max_tokens: 4 };

  // Expects a BadRequestError whose param names `param`.
  async function rejects400(promise, param) {
    await assert.rejects(promise, (e) => {
      assert.ok(e instanceof BadRequestError, `expected a BadRequestError naming ${param}, got ${e}`);
      assert.equal(e.status, 400);
      assert.equal(e.type, 'invalid_request_error');
      assert.equal(e.param, param, `param of "${e.message}"`);
      return true;
    });
  }
  const badChat = (fields, param) => rejects400(openai.chat.completions.create({ ...chat, ...fields }), param);
  const badCompletion = (fields, param) => rejects400(openai.completions.create({ ...completion, ...fields }), param);

  test('malformed JSON: 400 with param null (raw HTTP)', T, async () => {
    for (const path of ['/v1/chat/completions', '/v1/completions']) {
      for (const body of ['{"model": ', 'not json', '', '[1, 2]', '"a string"']) {
        const res = await curl(server, 'POST', path, { body });
        const err = assertErrorBody(res, 400, 'invalid_request_error');
        if (body !== '[1, 2]' && body !== '"a string"') assert.equal(err.param, null, `${path} ${body}`);
      }
    }
  });

  test('wrong types name the field', T, async () => {
    await badChat({ max_tokens: 'ten' }, 'max_tokens');
    await badChat({ max_tokens: 2.5 }, 'max_tokens');
    await badChat({ temperature: 'hot' }, 'temperature');
    await badChat({ messages: 'Hi' }, 'messages');
    await badChat({ stream: 'yes' }, 'stream');
    await badChat({ seed: 'abc' }, 'seed');
    await badChat({ stop: 42 }, 'stop');
    await badChat({ model: 7 }, 'model');
    await badCompletion({ prompt: 42 }, 'prompt');
    await badCompletion({ top_p: [1] }, 'top_p');
    await badCompletion({ kv_budget: true }, 'kv_budget');
  });

  test('missing required fields name the field', T, async () => {
    await badChat({ messages: undefined }, 'messages');
    await badChat({ model: undefined }, 'model');
    await badCompletion({ prompt: undefined }, 'prompt');
  });

  test('an unknown model is a 400 naming model', T, async () => {
    await badChat({ model: 'gpt-4o' }, 'model');
    await badCompletion({ model: `${MODEL_ID}-other` }, 'model');
  });

  test('n other than 1 is refused', T, async () => {
    await badChat({ n: 2 }, 'n');
    await badCompletion({ n: 3 }, 'n');
    const ok = await openai.chat.completions.create({ ...chat, n: 1 });
    assert.equal(ok.choices.length, 1);
  });

  test('max_tokens <= 0 is refused', T, async () => {
    await badChat({ max_tokens: 0 }, 'max_tokens');
    await badChat({ max_tokens: -1 }, 'max_tokens');
    await badChat({ max_tokens: undefined, max_completion_tokens: 0 }, 'max_completion_tokens');
    await badCompletion({ max_tokens: 0 }, 'max_tokens');
  });

  test('out-of-range sampler values name the field', T, async () => {
    await badChat({ temperature: 2.5 }, 'temperature');
    await badChat({ temperature: -0.1 }, 'temperature');
    await badChat({ top_p: 0 }, 'top_p');
    await badChat({ top_p: 1.5 }, 'top_p');
    await badChat({ top_k: -1 }, 'top_k');
    await badChat({ min_p: 1.5 }, 'min_p');
    await badChat({ logprobs: true, top_logprobs: 21 }, 'top_logprobs');
    await badCompletion({ logprobs: 6 }, 'logprobs');
    await badChat({ stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop');
    await badCompletion({ kv_budget: 0 }, 'kv_budget');
    await badCompletion({ kv_policy: 'lru' }, 'kv_policy');
  });

  test('a prompt longer than --ctx-size under the full policy is a 400', T, async () => {
    const long = 'the cat sat on the mat and looked at the big red ball. '.repeat(8);
    await badCompletion({ prompt: long }, 'prompt');
    await badChat({ messages: [{ role: 'user', content: long }] }, 'messages');
    // A prompt that fits still works on the same server.
    const ok = await openai.completions.create({ ...completion, prompt: 'the cat sat' });
    assert.ok(ok.usage.prompt_tokens < CTX);
  });

  test('unknown paths are 404 and wrong methods 405, with the error object', T, async () => {
    for (const [method, path, body] of [['GET', '/v1/nothing'], ['POST', '/v1/embeddings', '{}'], ['GET', '/']]) {
      assertErrorBody(await curl(server, method, path, { body }), 404, undefined);
    }
    await assert.rejects(openai.embeddings.create({ model: MODEL_ID, input: 'x' }), NotFoundError);
    for (const [method, path, body] of [['GET', '/v1/chat/completions'], ['GET', '/v1/completions'],
                                        ['POST', '/v1/models', '{}'], ['DELETE', '/health']]) {
      const res = await curl(server, method, path, { body });
      assertErrorBody(res, 405, undefined);
    }
  });

  test('a POST without a body is answered at once: 404, 405 or 400 naming the body', T, async () => {
    // No Content-Length and no Transfer-Encoding means an empty body
    // (RFC 9112 6.3), not one to wait for.
    for (const [path, status] of [['/v1/embeddings', 404], ['/v1/models', 405], ['/v1/completions', 400]]) {
      const started = Date.now();
      const res = await curl(server, 'POST', path, { timeoutS: 10 });
      assert.equal(res.status, status, `POST ${path} without a body: ${res.body}`);
      assert.ok(Date.now() - started < 2000, `POST ${path} without a body took ${Date.now() - started} ms`);
    }
  });

  test('after all the bad requests the server is healthy and counted them', T, async () => {
    const health = await curl(server, 'GET', '/health');
    assert.equal(health.status, 200);
    const m = await metrics(server);
    // The contract leaves the endpoint label's spelling open: any that names chat.
    const refused = m.samples.filter((s) => s.name === 'arkv_requests_total' && s.labels.code === '400' &&
                                            /chat/.test(s.labels.endpoint ?? ''))
      .reduce((a, s) => a + s.value, 0);
    assert.ok(refused >= 20, `arkv_requests_total for chat 400s is ${refused}`);
  });
});
