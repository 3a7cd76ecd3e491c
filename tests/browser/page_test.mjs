// The web page in a real browser: `cadcrafter serve` (procedural candidates, so a job takes
// seconds) driven through headless Debian chromium by playwright-core (web/node_modules).
//   1. upload the two example photos with a size of 40 mm, watch the stages, wait for the result
//   2. the viewer's canvas shows the model: non-background pixels over a threshold
//   3. switching to another candidate loads its model
//   4. the STEP download is read back by OpenCASCADE (`cadcrafter info --json`) at 40 mm
//   5. bad uploads show an error: a non-photo named .jpg (server), a .txt file (page)
// usage: node page_test.mjs CADCRAFTER_BINARY SOURCE_DIR [--screenshot PNG] [--candidates auto]
// Exit 0 passed, 1 failed, 77 skipped (chromium or the npm packages missing).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const [binary, sourceDir] = process.argv.slice(2);
const shotAt = process.argv.indexOf('--screenshot');
const screenshot = shotAt > 0 ? process.argv[shotAt + 1] : null;
// procedural (default): a job takes seconds; `--candidates auto` runs the shipped learned sources
// (for the screenshot in docs/images).
const candAt = process.argv.indexOf('--candidates');
const candidates = candAt > 0 ? process.argv[candAt + 1] : 'procedural';
if (!binary || !sourceDir) {
  console.error('usage: node page_test.mjs CADCRAFTER_BINARY SOURCE_DIR [--screenshot PNG]');
  process.exit(2);
}
const skip = (why) => { console.log('SKIPPED (browser): ' + why); process.exit(77); };
// $CHROMIUM names another browser binary (a missing one skips, as no chromium does).
const chromiumPath = (process.env.CHROMIUM ? [process.env.CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'])
  .find((p) => existsSync(p));
if (!chromiumPath) skip(`no chromium at ${process.env.CHROMIUM || '/usr/bin/chromium'} (apt-get install chromium; scripts/setup.sh)`);
const webRoot = path.join(sourceDir, 'web');
const require = createRequire(path.join(webRoot, 'package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch (e) {
  skip('playwright-core is not installed in web/node_modules (scripts/setup.sh, or npm ci in web/)');
}
if (!existsSync(path.join(webRoot, 'node_modules/three/build/three.module.js'))) skip('three is not installed in web/node_modules');
if (!existsSync(path.join(sourceDir, 'models/estimator.pt'))) skip('no shipped estimator (models/estimator.pt)');

let failures = 0;
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok' : 'FAILED'} - ${what}${detail ? ': ' + detail : ''}`);
  if (!ok) ++failures;
};

const work = mkdtempSync(path.join(tmpdir(), 'cadcrafter_browser_'));
const server = spawn(binary, ['serve', '--port', '0', '--web-root', webRoot, '--weights', path.join(sourceDir, 'models'),
                              '--candidates', candidates, '--threads', '2', '--time-limit', '120'],
                     { stdio: ['ignore', 'ignore', 'pipe'] });
let serverLog = '';
const url = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('serve did not start in 120 s: ' + serverLog)), 120000);
  server.stderr.on('data', (chunk) => {
    serverLog += chunk;
    const m = /http:\/\/[0-9.]+:(\d+)\//.exec(serverLog);
    if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}/`); }
  });
  server.on('exit', (code) => reject(new Error(`serve exited (${code}): ${serverLog}`)));
});

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  // WebGL without a GPU: SwiftShader through ANGLE.
  args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 1000 }, acceptDownloads: true });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // No request may leave the machine: everything the page needs comes from the server.
  const outside = [];
  page.on('request', (r) => { if (!r.url().startsWith(url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) outside.push(r.url()); });
  await page.goto(url);
  // 60 s: under ctest -j2 beside the CLI trainings, chromium needs more than 20 s to start the viewer.
  await page.waitForFunction(() => window.cadViewer !== undefined, null, { timeout: 60000 });
  check(true, 'the page loads with its 3D viewer (three.js from the server)');

  // 1. Upload, stages, result.
  const photos = ['bracket_1.jpg', 'bracket_2.jpg'].map((f) => path.join(sourceDir, 'examples/photos', f));
  await page.setInputFiles('#photos', photos);
  await page.fill('#samples', '3');
  await page.fill('#size-value', '40');
  await page.selectOption('#size-unit', 'mm');
  await page.evaluate(() => {
    window.__stages = new Set();
    new MutationObserver(() => document.querySelectorAll('#stages li.now').forEach((li) => window.__stages.add(li.textContent)))
      .observe(document.getElementById('stages'), { childList: true, subtree: true });
  });
  const started = Date.now();
  await page.click('#go');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state), null, { timeout: 150000 });
  const seconds = (Date.now() - started) / 1000;
  const state = await page.evaluate(() => document.body.dataset.state);
  const statusText = await page.textContent('#status');
  check(state === 'done', 'upload of the example photos gives a result', `${statusText} (${seconds.toFixed(1)} s)`);
  const stages = await page.evaluate(() => [...window.__stages]);
  check(stages.includes('uploading') && stages.some((s) => s !== 'uploading'), 'progress shows the stages', stages.join(', '));
  check(/40 mm/.test(statusText), 'the result says the size asked for', statusText);

  // 2. The viewer shows the model.
  await page.waitForSelector('#viewer[data-loaded]', { timeout: 90000 });
  const coverage = await page.evaluate(() => window.cadViewer.coverage());
  check(coverage > 0.02, 'the viewer canvas shows the model', `${(100 * coverage).toFixed(1)}% of its pixels are not background`);
  const thumbs = await page.locator('#photos-col img').count();
  check(thumbs === 2, 'the uploaded photos are shown beside the viewer', `${thumbs} photos`);
  if (screenshot) {
    await page.screenshot({ path: screenshot, fullPage: false });
    console.log('screenshot: ' + screenshot);
  }

  // 3. Switch candidates.
  const buttons = page.locator('#candidates button');
  const count = await buttons.count();
  check(count === 3, 'one button per candidate', String(count));
  const first = await page.getAttribute('#viewer', 'data-loaded');
  const other = await page.evaluate((f) => [...document.querySelectorAll('#candidates button')].map((b) => b.dataset.folder)
    .find((x) => x !== f), first);
  const otherValid = await page.evaluate((f) => !document.querySelector(`#candidates button[data-folder="${f}"]`).textContent.includes('invalid'), other);
  await page.click(`#candidates button[data-folder="${other}"]`);
  if (otherValid) {
    await page.waitForSelector(`#viewer[data-loaded="${other}"]`, { timeout: 90000 });
    const c2 = await page.evaluate(() => window.cadViewer.coverage());
    check(c2 > 0.02, `switching to ${other} shows its model`, `${(100 * c2).toFixed(1)}% model pixels`);
  }
  const currentDownloads = await page.evaluate(() => [...document.querySelectorAll('#downloads a')].map((a) => a.textContent));
  check(otherValid ? currentDownloads.join() === 'STEP,GLB,STL,build123d,JSON' : currentDownloads.length > 0,
        'download buttons follow the candidate', currentDownloads.join(', '));
  await page.click(`#candidates button[data-folder="${first}"]`);
  await page.waitForSelector(`#viewer[data-loaded="${first}"]`, { timeout: 90000 });

  // 4. STEP download, read back by OpenCASCADE at the size asked for.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#downloads a[data-file="model.step"]')]);
  const stepPath = path.join(work, 'download.step');
  await download.saveAs(stepPath);
  let info = null;
  try {
    info = JSON.parse(execFileSync(binary, ['info', stepPath, '--json'], { encoding: 'utf8' }));
  } catch (e) {
    check(false, 'cadcrafter info reads the downloaded STEP', e.message);
  }
  if (info) {
    const longest = Math.max(...info.size);
    check(info.solids >= 1 && info.volume > 0, 'the downloaded STEP is a solid OpenCASCADE reads back',
          `${download.suggestedFilename()}: ${info.solids} solid(s), ${info.faces} faces, volume ${info.volume.toFixed(0)} mm^3`);
    check(Math.abs(longest - 40) < 0.4, 'the downloaded STEP is 40 mm long', `${longest.toFixed(3)} ${info.unit}`);
  }

  // 5. Bad uploads: a text file named .jpg (the server refuses it), a .txt file (the page does).
  await page.setInputFiles('#photos', { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('this is not a photo') });
  await page.click('#go');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state) && document.body.dataset.state !== 'running',
                             null, { timeout: 60000 });
  const badText = await page.textContent('#status');
  check(await page.evaluate(() => document.body.dataset.state) === 'error' && /^Error: .*notes\.jpg/.test(badText),
        'a non-photo upload shows the server\'s error', badText);
  check(await page.isVisible('#status.error'), 'the error is shown as an error');
  await page.setInputFiles('#photos', { name: 'part.txt', mimeType: 'text/plain', buffer: Buffer.from('text') });
  await page.click('#go');
  const txtText = await page.textContent('#status');
  check(/part\.txt is not a PNG or JPEG/.test(txtText), 'a .txt upload is refused by the page', txtText);

  check(pageErrors.length === 0, 'no script errors', pageErrors.join(' | '));
  check(outside.length === 0, 'no request leaves the server', outside.join(' '));
} finally {
  await browser.close();
  server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `${failures} check(s) FAILED` : 'all browser checks passed');
process.exit(failures ? 1 : 0);
