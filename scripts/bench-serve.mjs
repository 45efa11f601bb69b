// The load generator and the summary of scripts/bench-serve.sh; plain Node
// (global fetch), no packages.
//
//   node scripts/bench-serve.mjs run URL MODEL_ID CONCURRENCY REQUESTS MAX_TOKENS PROMPT_WORDS [TEXT_FILE]
//     CONCURRENCY closed-loop clients send REQUESTS streamed greedy
//     /v1/completions in all, each with its own prompt of PROMPT_WORDS words
//     (from TEXT_FILE, else generated). Prints one JSON line: wall seconds,
//     completion tokens, aggregate tokens/s, time to first token p50/p99.
//   node scripts/bench-serve.mjs summary RESULTS.jsonl
//     The Markdown table of scripts/bench-serve.sh from its JSON lines.
import { readFileSync } from 'node:fs';

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  // Nearest rank: the smallest value with at least p of the samples at or below it.
  const rank = Math.max(1, Math.ceil(p * sorted.length));
  return sorted[rank - 1];
}

function median(values) {
  const s = values.filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function prompts(count, words, textFile) {
  let pool;
  if (textFile) {
    pool = readFileSync(textFile, 'utf8').split(/\s+/).filter((w) => w !== '');
  } else {
    const base = ['the', 'little', 'dog', 'ran', 'to', 'park', 'and', 'saw', 'a', 'big', 'red', 'ball', 'Lily', 'was',
                  'happy', 'sun', 'tree', 'friend', 'play', 'day'];
    pool = Array.from({ length: 50000 }, (_, i) => base[(i * 7919) % base.length]);
  }
  if (pool.length < words * 2) throw new Error(`${textFile}: too little text for ${words}-word prompts`);
  // Prompts start at spread-out offsets, so that no two share a prefix.
  const stride = Math.max(1, Math.floor((pool.length - words) / count));
  return Array.from({ length: count }, (_, i) => pool.slice(i * stride, i * stride + words).join(' '));
}

// One streamed completion: {ttft_ms (to the first non-empty text), tokens}.
// Tokens from the usage chunk
// when the server sends one, else one per non-empty text chunk.
// A request whose reused keep-alive connection the server closed before
// answering is sent again at once (counted in `retries`); the time to first
// token counts from the first attempt.
let retries = 0;
async function one(url, model, prompt, maxTokens) {
  const started = performance.now();
  const send = () => fetch(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, prompt, max_tokens: maxTokens, temperature: 0, stream: true,
                           stream_options: { include_usage: true } }),
    signal: AbortSignal.timeout(600000),
  });
  let res;
  for (let attempt = 1; ; ++attempt) {
    try {
      res = await send();
      break;
    } catch (e) {
      if (attempt === 3 || e.cause?.code !== 'UND_ERR_SOCKET') throw e;
      retries++;
    }
  }
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffered = '';
  let ttft = null;
  let chunks = 0;
  let usage = null;
  for await (const bytes of res.body) {
    buffered += decoder.decode(bytes, { stream: true });
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const event = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const data = event.split('\n').find((l) => l.startsWith('data: '))?.slice(6);
      if (!data || data === '[DONE]') continue;
      const json = JSON.parse(data);
      if (json.usage) usage = json.usage;
      const text = json.choices?.[0]?.text;
      if (text) {
        chunks++;
        if (ttft === null) ttft = performance.now() - started;
      }
    }
  }
  // No visible text at all (a synthetic model's tokens may decode to none):
  // no time to first token.
  return { ttft_ms: ttft, tokens: usage?.completion_tokens ?? chunks };
}

async function run([url, model, concurrency, requests, maxTokens, words, textFile]) {
  const c = Number(concurrency);
  const n = Number(requests);
  const texts = prompts(n, Number(words), textFile);
  const results = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: c }, async () => {
    while (next < n) {
      const i = next++;
      results.push(await one(url, model, texts[i], Number(maxTokens)));
    }
  }));
  const wall = (performance.now() - started) / 1000;
  const ttft = results.map((r) => r.ttft_ms).filter((t) => t !== null).sort((a, b) => a - b);
  const tokens = results.reduce((a, r) => a + r.tokens, 0);
  console.log(JSON.stringify({
    concurrency: c, requests: n, wall_s: wall, completion_tokens: tokens, tokens_per_s: tokens / wall,
    ttft_p50_ms: percentile(ttft, 0.5), ttft_p99_ms: percentile(ttft, 0.99), retries,
  }));
}

function summary([file]) {
  const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  const levels = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const servers = [...new Set(rows.map((r) => r.server))];
  const fmt = (v, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : '-');
  const head = ['streams'];
  for (const s of servers) head.push(`${s} tok/s`, `${s} TTFT p50 ms`, `${s} TTFT p99 ms`, `${s} tokens`);
  if (servers.length === 2) head.push(`tok/s ratio ${servers[0]} / ${servers[1]} (rounds)`, 'TTFT p50 ratio');
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---:').join('|')}|`);
  for (const c of levels) {
    const cells = [String(c)];
    const by = {};
    for (const s of servers) {
      const rs = rows.filter((r) => r.server === s && r.concurrency === c);
      by[s] = rs;
      cells.push(fmt(median(rs.map((r) => r.tokens_per_s))), fmt(median(rs.map((r) => r.ttft_p50_ms)), 0),
                 fmt(median(rs.map((r) => r.ttft_p99_ms)), 0), String(median(rs.map((r) => r.completion_tokens))));
    }
    if (servers.length === 2) {
      const [a, b] = servers.map((s) => by[s]);
      // Per-round ratios: round i of one against round i of the other, run back to back.
      const ratios = a.map((r, i) => r.tokens_per_s / b[i]?.tokens_per_s).filter(Number.isFinite);
      const ttftRatios = a.map((r, i) => r.ttft_p50_ms / b[i]?.ttft_p50_ms).filter(Number.isFinite);
      cells.push(`${fmt(median(ratios), 2)} (${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)})`,
                 fmt(median(ttftRatios), 2));
    }
    console.log(`| ${cells.join(' | ')} |`);
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'run') await run(args);
else if (mode === 'summary') summary(args);
else {
  console.error('usage: bench-serve.mjs run URL MODEL_ID CONCURRENCY REQUESTS MAX_TOKENS PROMPT_WORDS [TEXT_FILE]\n' +
                '       bench-serve.mjs summary RESULTS.jsonl');
  process.exit(2);
}
