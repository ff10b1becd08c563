// End-to-end checks of `jury serve` in headless Chromium, the way a person uses it.
// Run by tests/browser.rs, which starts the server and passes JURY_URL and JURY_ARTIFACTS.
// Each step saves a screenshot; a failure saves one more, with the page's HTML.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.JURY_URL;
const artifacts = process.env.JURY_ARTIFACTS;
const chromiumPath = process.env.JURY_CHROMIUM || '/usr/bin/chromium';
assert.ok(base && artifacts, 'JURY_URL and JURY_ARTIFACTS must be set');
mkdirSync(artifacts, { recursive: true });

// Markup that must show up as text, never run or render.
const XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';

const goodQuestions = [
  { question_id: 1, text: `Which is larger, 2 or 3? ${XSS}`, category: 'math' },
  { question_id: 2, text: 'Name a primary colour.', category: 'knowledge' },
  { question_id: 3, text: 'What is the capital of France?', category: 'knowledge' },
  { question_id: 4, text: 'Spell "cat" backwards.', category: 'writing' },
];
const jsonl = (rows) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
// The same file with an empty third question: the upload must name line 3 and store nothing.
const badQuestions = jsonl(goodQuestions.map((q, i) => (i === 2 ? { ...q, text: '  ' } : q)));

const answerRow = (model, q, answer) =>
  ({ question_id: q.question_id, text: q.text, category: q.category, model_id: model, metadata: {}, answer });
const models = ['alpha', 'beta', 'evil<b>model</b>'];
// Answer texts do not name their model, so the vote page can be checked for anonymity.
const answers = jsonl(models.flatMap((m, i) =>
  goodQuestions.map((q) => answerRow(m, q, `Answer ${i + 1} to question ${q.question_id}. ${XSS}`))));

let step = 0;
async function shot(page, name) {
  step += 1;
  await page.screenshot({ path: join(artifacts, `${String(step).padStart(2, '0')}-${name}.png`), fullPage: true });
}

async function expectNoScriptRan(page) {
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'injected markup ran as script');
  assert.equal(await page.locator('img[src="x"]').count(), 0, 'injected <img> was rendered as an element');
}

/// Clicks a form's submit button and waits for the page it leads to (after any redirect).
async function submit(page, selector) {
  await Promise.all([page.waitForEvent('framenavigated'), page.click(selector)]);
  await page.waitForLoadState('load');
}

async function uploadQuestions(page, name, content) {
  await page.goto(`${base}/questions`);
  await page.fill('#upload-questions input[name=name]', name);
  await page.setInputFiles('#upload-questions input[name=file]', {
    name: `${name}.jsonl`, mimeType: 'application/x-ndjson', buffer: Buffer.from(content),
  });
  await submit(page, '#upload-questions button[type=submit]');
}

/// The rows of the leaderboard table as {model, battles}.
async function boardRows(page) {
  if ((await page.locator('#leaderboard').count()) === 0) return [];
  return page.$$eval('#leaderboard tbody tr', (trs) =>
    trs.map((tr) => ({ model: tr.children[1].querySelector('a').textContent, battles: Number(tr.children[4].textContent) })));
}

async function main(page) {
  // 1. The leaderboard of a fresh, seeded server.
  let response = await page.goto(`${base}/`);
  assert.equal(response.status(), 200);
  assert.match(await page.title(), /Leaderboard/);
  await page.locator('h1', { hasText: 'Leaderboard' }).waitFor();
  await shot(page, 'leaderboard');

  // 2. A question set with one bad line: the error names the line, nothing is stored.
  await uploadQuestions(page, 'browser-set', badQuestions);
  const errors = await page.locator('.errors').innerText();
  assert.match(errors, /line 3: .*empty/i, `error list was: ${errors}`);
  await shot(page, 'upload-bad-line');
  await page.goto(`${base}/questions`);
  assert.equal(await page.locator('#question-sets a', { hasText: 'browser-set' }).count(), 0, 'bad upload stored a set');

  // 3. The good file: its page lists the questions, the markup shown as text.
  await uploadQuestions(page, 'browser-set', jsonl(goodQuestions));
  await page.locator('#questions').waitFor();
  assert.match(page.url(), /\/questions\/\d+$/);
  const setUrl = page.url();
  const setId = setUrl.split('/').pop();
  assert.equal(await page.locator('#questions tbody tr').count(), 4);
  assert.ok((await page.locator('#questions').innerText()).includes(XSS), 'question markup not shown as text');
  await expectNoScriptRan(page);

  // Answers produced elsewhere, from three models, one with markup in its name.
  await page.setInputFiles('#upload-answers input[name=file]', {
    name: 'answers.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(answers),
  });
  await submit(page, '#upload-answers button[type=submit]');
  assert.match(await page.locator('.notice').innerText(), /12 answers/);
  assert.ok((await page.content()).includes('evil&lt;b&gt;model&lt;/b&gt;'), 'model name not escaped');
  await expectNoScriptRan(page);
  await shot(page, 'question-set');

  // 4. A dry-run round over the three stored models; the run page refreshes until it is done.
  await page.goto(`${base}/runs`);
  await page.selectOption('#start-run select[name=question_set]', setId);
  for (const model of models) {
    await page.check(`#start-run input[name=candidates][value="${model}"]`);
  }
  await page.selectOption('#start-run select[name=judge]', 'dry-run');
  await page.fill('#start-run input[name=title]', 'browser round');
  await Promise.all([page.waitForURL(/\/runs\/\d+$/), page.click('#start-run button[type=submit]')]);
  await page.locator('#run-status', { hasText: /succeeded|failed|cancelled/ }).waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#run-status').innerText(), 'succeeded');
  await shot(page, 'run-done');

  // The dry-run board now has the three models, 4 questions x 3 pairs = 12 battles.
  await page.goto(`${base}/?source=judge&dry_run=1&question_set=${setId}`);
  const judged = await boardRows(page);
  assert.deepEqual(judged.map((r) => r.model).sort(), [...models].sort());
  assert.equal(judged.reduce((n, r) => n + r.battles, 0), 2 * 12);
  await expectNoScriptRan(page);
  await shot(page, 'judge-board');

  // 5. Three votes; names are revealed after each; the human board counts them at once.
  await page.goto(`${base}/?source=human&question_set=${setId}`);
  assert.deepEqual(await boardRows(page), [], 'human board not empty before voting');
  await page.goto(`${base}/vote?question_set=${setId}`);
  const seen = new Set();
  for (const choice of ['A is better', 'B is better', 'A is better']) {
    await page.locator('#answer-a').waitFor();
    const battleAction = await page.getAttribute('form.vote-buttons', 'action');
    assert.ok(!seen.has(battleAction), `battle ${battleAction} offered twice`);
    seen.add(battleAction);
    const shown = await page.locator('body').innerText();
    for (const m of models) {
      assert.ok(!shown.includes(m), `the vote page names ${m} before the vote`);
    }
    await expectNoScriptRan(page);
    if (seen.size === 1) await shot(page, 'vote');
    await submit(page, `form.vote-buttons button:has-text("${choice}")`);
    const revealed = await page.locator('#revealed').innerText();
    assert.match(revealed, /Answer A was .+, answer B was .+\./);
    if (seen.size === 1) await shot(page, 'vote-revealed');
    await page.click('#next-battle');
  }
  await page.goto(`${base}/?source=human&question_set=${setId}`);
  const human = await boardRows(page);
  assert.ok(human.length >= 2, 'human board has no models after three votes');
  assert.equal(human.reduce((n, r) => n + r.battles, 0), 2 * 3, 'human board does not count the three votes');
  await expectNoScriptRan(page);
  await shot(page, 'human-board');

  // 5b. The judge board says how far its judge can be trusted, refits itself under style
  //     control from the filter form, and the judges page compares the judges.
  await page.goto(`${base}/?source=judge&dry_run=1&question_set=${setId}`);
  assert.equal(await page.locator('#judge-trust').count(), 1, 'the judge board has no trust figures');
  await page.check('input[name=style_control]');
  await submit(page, 'form.filters button[type=submit]');
  assert.equal(await page.locator('#style-board tbody tr').count(), models.length, 'no style-controlled board');
  assert.equal(await page.locator('#style-coefficients tbody tr').count(), 4);
  await expectNoScriptRan(page);
  await shot(page, 'style-control');
  await page.goto(`${base}/judges?dry_run=1`);
  assert.ok((await page.locator('table.judges tbody tr').count()) >= 1, 'the judges page lists no judge');
  await shot(page, 'judges');
  await page.goto(`${base}/safety`);
  assert.match(await page.locator('body').innerText(), /No safety grades yet/);
  await expectNoScriptRan(page);

  // 6. The battle browser shows the answers with the markup as text.
  await page.goto(`${base}/battles?question_set=${setId}&dry_run=1`);
  await page.locator('table a[href^="/battles/"]').first().click();
  assert.ok((await page.content()).includes('&lt;script&gt;window.__pwned = 1&lt;/script&gt;'));
  await expectNoScriptRan(page);
  await shot(page, 'battle');

  // 7. Another site (another origin) tries to write through this browser: a plain form post to
  //    the API, a forged page form, and a script with the API's header. All are refused.
  await crossSiteWritesAreRefused(page);

  // 8. An eval (seeded by the test as `jury eval` stores one): its scores, chart and wrong answers.
  await page.goto(`${base}/evals`);
  await submit(page, '#evals a[href^="/evals/"]');
  assert.ok(await page.locator('svg[aria-label="Scores per task"] rect').count() >= 2, 'no bar chart');
  const taskRow = (await page.locator('#tasks tbody tr').first().innerText()).replace(/\s+/g, ' ');
  assert.match(taskRow, /arc_easy acc 50\.00 ±50\.00/);
  await submit(page, '#tasks a:has-text("wrong ones")');
  assert.equal(await page.locator('#samples tbody tr').count(), 1, 'only the wrong answer is listed');
  assert.ok((await page.content()).includes('&lt;script&gt;window.__pwned = 3'), 'the markup is shown as text');
  await expectNoScriptRan(page);
  await shot(page, 'eval-wrong-answers');
  await page.goto(`${base}/benchmarks`);
  assert.ok((await page.locator('#matrix').innerText()).includes('browser-model'));
  await shot(page, 'benchmarks');

  // 9. An eval started from the form: the configured endpoint on ARC-Easy, run by the server's
  //    worker while the page shows its progress, then its score.
  await page.goto(`${base}/evals`);
  const options = await page.locator('#start-eval select[name="model"] option').allInnerTexts();
  assert.equal(options.filter((o) => o.endsWith('(local)')).length, 1, 'the local file is offered once');
  await page.selectOption('#start-eval select[name="model"]', 'served:echo');
  await page.check('#start-eval input[name="datasets"][value="arc_easy"]');
  await page.fill('#start-eval input[name="limit"]', '3');
  await submit(page, '#start-eval button[type="submit"]');
  assert.match(page.url(), /\/evals\/\d+$/, 'the form leads to the new eval');
  for (let i = 0; i < 100 && (await page.locator('.status-succeeded').count()) === 0; i++) {
    assert.equal(await page.locator('.status-failed').count(), 0, 'the eval failed');
    await page.waitForTimeout(200);
    await page.reload();
  }
  const started = (await page.locator('#tasks tbody tr').first().innerText()).replace(/\s+/g, ' ');
  assert.match(started, /arc_easy acc 100\.00/, 'the echoing endpoint answers every question right');
  await expectNoScriptRan(page);
  await shot(page, 'eval-from-the-form');

  // 10. Two load tests started from the form against a streaming endpoint, then side by side.
  const perfTest = async (parallel, stream) => {
    await page.goto(`${base}/perf`);
    await page.selectOption('#start-perf select[name="target"]', 'served:stream');
    await page.fill('#start-perf input[name="parallel"]', parallel);
    await page.fill('#start-perf input[name="number"]', '4');
    await page.fill('#start-perf input[name="max_tokens"]', '20');
    if (!stream) await page.uncheck('#start-perf input[name="stream"]');
    await submit(page, '#start-perf button[type="submit"]');
    assert.match(page.url(), /\/perf\/\d+$/, 'the form leads to the new load test');
    for (let i = 0; i < 100 && (await page.locator('.status-succeeded').count()) === 0; i++) {
      assert.equal(await page.locator('.status-failed').count(), 0, 'the load test failed');
      await page.waitForTimeout(200);
      await page.reload();
    }
    assert.equal(await page.locator('.status-succeeded').count(), 1, 'the load test finished');
  };
  await perfTest('1 2', true);
  const headings = await page.locator('.perf-point h2').allInnerTexts();
  assert.deepEqual(headings, ['parallel 1', 'parallel 2'], 'one section per load');
  assert.ok((await page.locator('.perf-point svg').count()) >= 4, 'histograms and charts are drawn');
  await shot(page, 'perf-from-the-form');
  await perfTest('2', false);
  await page.goto(`${base}/perf`);
  const boxes = page.locator('#compare input[name="id"]');
  assert.equal(await boxes.count(), 2);
  await boxes.nth(0).check();
  await boxes.nth(1).check();
  await submit(page, '#compare button[type="submit"]');
  assert.match(page.url(), /\/perf\/compare\?id=\d+&id=\d+$/);
  const ttft = (await page.locator('table.comparison tr', { hasText: 'TTFT p50' }).first().innerText()).replace(/\s+/g, ' ');
  // The newer test (whole answers) is A: its first token came with the last, so streaming is better.
  assert.match(ttft, /\((better|worse)\)/, `a verdict on time to first token: ${ttft}`);
  assert.equal(await page.locator('.perf-pair').count(), 1, 'only the load both tests share is compared');
  await shot(page, 'perf-compared');
}

async function setNames() {
  const sets = await (await fetch(`${base}/api/question-sets`)).json();
  return sets.map((s) => s.name);
}

async function crossSiteWritesAreRefused(page) {
  const evilPage = `<!doctype html><html><body><h1>A page on another site</h1>
    <form id="api" method="post" enctype="text/plain" action="${base}/api/question-sets?name=cross-site">
      <input name='{"question_id": 1, "text": "planted", "x": "' value='"}'>
    </form>
    <form id="page" method="post" action="${base}/questions/1/delete"><input name="csrf" value="forged"></form>
    </body></html>`;
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(evilPage);
  });
  await new Promise((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const evilBase = `http://127.0.0.1:${evil.address().port}`;
  try {
    const before = await setNames();
    for (const form of ['api', 'page']) {
      await page.goto(`${evilBase}/`);
      await Promise.all([page.waitForEvent('framenavigated'), page.evaluate((f) => document.getElementById(f).submit(), form)]);
      await page.waitForLoadState('load');
      assert.ok(/403|Forbidden|must come from its own pages/.test(await page.content()), `the ${form} form was not refused`);
    }
    await page.goto(`${evilBase}/`);
    const scripted = await page.evaluate(async (target) => {
      try {
        const r = await fetch(`${target}/api/question-sets?name=cross-site-script`, {
          method: 'POST',
          headers: { 'X-Requested-With': 'evil', 'Content-Type': 'application/jsonl' },
          body: '{"question_id": 1, "text": "planted"}\n',
        });
        return `answered ${r.status}`;
      } catch (e) {
        return 'blocked';
      }
    }, base);
    assert.equal(scripted, 'blocked', 'a cross-site script got an answer');
    await shot(page, 'cross-site-refused');
    assert.deepEqual(await setNames(), before, 'a cross-site write changed the question sets');
  } finally {
    evil.close();
  }
}

const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const consoleErrors = [];
page.on('pageerror', (e) => consoleErrors.push(e.message));
try {
  await main(page);
  assert.deepEqual(consoleErrors, [], 'scripts on the pages threw');
  console.log(`browser checks passed; screenshots in ${artifacts}`);
} catch (e) {
  await page.screenshot({ path: join(artifacts, 'failure.png'), fullPage: true }).catch(() => {});
  writeFileSync(join(artifacts, 'failure.html'), await page.content().catch(() => ''));
  console.error(`failed at ${page.url()}: ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
