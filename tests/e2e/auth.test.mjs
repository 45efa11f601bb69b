// --api-key and --alias: 401 for a missing or wrong key on every endpoint but
// /health, and the alias as the only model id.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { AuthenticationError, BadRequestError } from 'openai';

import { MODEL_ID, client, curl, startServer, stopAndCheck } from './lib/server.mjs';

const KEY = 'sk-arkv-e2e-4f1c';
const ALIAS = 'tiny-stories';
const T = { timeout: 30000 };

describe('api key and alias', () => {
  let server;
  before(async () => {
    server = await startServer(['--api-key', KEY, '--alias', ALIAS]);
  });
  after(async () => {
    if (server) await stopAndCheck(server);
  });

  test('the right key is let in, and the alias is the model id', T, async () => {
    const openai = client(server, { apiKey: KEY });
    const models = await openai.models.list();
    assert.equal(models.data.length, 1);
    assert.equal(models.data[0].id, ALIAS);
    const r = await openai.completions.create({ model: ALIAS, prompt: 'Once', max_tokens: 2 });
    assert.equal(r.model, ALIAS);
    assert.equal(r.usage.completion_tokens, 2);
    // The file name is not a second id once an alias is given.
    await assert.rejects(openai.completions.create({ model: MODEL_ID, prompt: 'Once', max_tokens: 2 }),
                         (e) => e instanceof BadRequestError && e.param === 'model');
  });

  test('a wrong key is a 401 invalid_api_key through the client', T, async () => {
    const openai = client(server, { apiKey: `${KEY}x` });
    for (const call of [() => openai.models.list(),
                        () => openai.chat.completions.create(
                          { model: ALIAS, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 }),
                        () => openai.completions.create({ model: ALIAS, prompt: 'Hi', max_tokens: 2, stream: true })]) {
      await assert.rejects(call(), (e) => {
        assert.ok(e instanceof AuthenticationError, `${e}`);
        assert.equal(e.status, 401);
        assert.equal(e.code, 'invalid_api_key');
        assert.equal(e.type, 'invalid_request_error');
        return true;
      });
    }
  });

  test('a missing or malformed Authorization header is a 401 on every endpoint (raw HTTP)', T, async () => {
    const body = JSON.stringify({ model: ALIAS, prompt: 'Hi', max_tokens: 2 });
    const attempts = [
      ['GET', '/v1/models', {}],
      ['GET', '/metrics', {}],
      ['POST', '/v1/completions', {}],
      ['POST', '/v1/chat/completions', { Authorization: KEY }],  // no "Bearer"
      ['POST', '/v1/completions', { Authorization: `Basic ${KEY}` }],
      ['POST', '/v1/completions', { Authorization: 'Bearer ' }],
      ['POST', '/v1/completions', { Authorization: `Bearer ${KEY.slice(0, -1)}` }],
    ];
    for (const [method, path, headers] of attempts) {
      const res = await curl(server, method, path, { headers, body: method === 'POST' ? body : undefined });
      const what = `${method} ${path} ${JSON.stringify(headers)}`;
      assert.equal(res.status, 401, what);
      const err = JSON.parse(res.body).error;
      assert.equal(err.code, 'invalid_api_key', what);
      assert.equal(err.type, 'invalid_request_error', what);
    }
    const ok = await curl(server, 'POST', '/v1/completions',
                          { headers: { Authorization: `Bearer ${KEY}` }, body });
    assert.equal(ok.status, 200, ok.body);
  });

  test('/health never needs the key', T, async () => {
    const res = await curl(server, 'GET', '/health');
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 'ok' });
  });
});
