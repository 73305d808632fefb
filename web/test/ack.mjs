// The acknowledgement page of a notification's link in a real browser: the
// link of a Dutch message opens the page in Dutch (over the browser's
// English), the alarm is acknowledged with the keyboard alone, and a link
// that is not valid answers in the browser's language. axe-core must find
// no serious or critical violation; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestAckPageInABrowser, which starts the demo, raises
// an alarm in Dutch and sets MOLEN_URL, MOLEN_CHROMIUM and MOLEN_ACK_URL (the
// link of its e-mail). Prints one line per step; exits non-zero on the
// first failure.
import { env, base, log, fail, browser, newPage, view, text } from './session.mjs';

const page = await newPage();
await page.goto(env('MOLEN_ACK_URL'));
await page.waitForSelector('h1');
if (await page.getAttribute('html', 'lang') !== 'nl') fail('lang: ' + await page.getAttribute('html', 'lang'));
if (!/Een alarm bevestigen/.test(await text(page, 'h1'))) fail('heading: ' + await text(page, 'h1'));
if (!/Sinds \d{4}-/.test(await text(page, 'main'))) fail('no "Sinds": ' + await text(page, 'main'));
await view(page, 'ack-nl');
log('ok a Dutch message\'s link opens the page in Dutch');

// The keyboard alone: the name field first, then the button.
const focused = () => page.evaluate(() => document.activeElement && (document.activeElement.name || document.activeElement.textContent));
await page.keyboard.press('Tab');
if (await focused() !== 'name') fail('first Tab stop: ' + await focused());
await page.keyboard.type('Piet');
await page.keyboard.press('Tab');
if (await focused() !== 'Bevestigen') fail('second Tab stop: ' + await focused());
await page.keyboard.press('Enter');
await page.waitForSelector('[role="status"]');
if (!/^Bevestigd\. Dank je/.test(await text(page, '[role="status"]'))) fail('after Enter: ' + await text(page, '[role="status"]'));
if (await page.$('form')) fail('the form is still there');
await view(page, 'ack-nl-done');
log('ok acknowledged with the keyboard, in Dutch');

page.expect = /^404 GET .*\/notify\/ack\?token=ndl_/;
await page.goto(base + '/notify/ack?token=ndl_nothing.bad');
await page.waitForSelector('[role="alert"]');
if (await page.getAttribute('html', 'lang') !== 'en' || !/This link is not valid/.test(await text(page, '[role="alert"]'))) {
  fail('an invalid link for an English browser: ' + await text(page, 'main'));
}
await view(page, 'ack-invalid-en');
log('ok an invalid link in the browser\'s language');

await browser.close();
console.log('\nPASS');
