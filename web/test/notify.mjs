// The notifications screens in a real browser, against a running demo hub:
// the demo's rules and channels (the Teams channel's key masked); an admin
// makes a Slack-format webhook channel (its signing key shown once), sends
// it a test message and sees it sent in the delivery log; makes a rule for
// a machine down with the keyboard, changes it and deletes it; the log and
// the rules in Dutch. axe-core must find no serious or critical violation on
// any screen; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestNotifyInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG, MOLEN_CHROMIUM and
// MOLEN_HOOK_URL (the demo's webhook receiver). Prints one line per step;
// exits non-zero on the first failure.
import {
  env, log, fail, browser, newPage, view, text, status, signIn, go,
} from './session.mjs';

const page = await newPage();
await signIn(page, env('MOLEN_EMAIL'), env('MOLEN_PASSWORD'));
const nav = await page.$$eval('#nav a', (as) => as.map((a) => a.textContent));
if (!nav.includes('Notifications')) fail('menu: ' + nav.join(', '));

// 1. The demo's rules and channels.
await go(page, '#/notify', 'Rules');
for (const r of ['Compressor alarms by e-mail', 'Compressor alarms to Teams', 'A machine down for 15 minutes']) {
  await page.waitForSelector(`[data-rule="${r}"]`);
}
if (!/to Maintenance Teams channel \(demo sink\) after 30 min/.test(await text(page, '[data-rule="Compressor alarms by e-mail"]'))) {
  fail('escalation not shown: ' + await text(page, '[data-rule="Compressor alarms by e-mail"]'));
}
if (!/edge offline for 10 min at every site/.test(await text(page, '[data-rule="An edge offline for 10 minutes"]'))) {
  fail('edge rule not shown: ' + await text(page, '[data-rule="An edge offline for 10 minutes"]'));
}
if (!/input down for 5 min at site hall-1/.test(await text(page, '[data-rule="A machine connection down in hall 1"]'))) {
  fail('input rule not shown: ' + await text(page, '[data-rule="A machine connection down in hall 1"]'));
}
await view(page, 'notify-rules');
log('ok the demo\'s rules');

await go(page, '#/notify/channels', 'Channels');
const teams = '[data-channel="Maintenance Teams channel (demo sink)"]';
await page.waitForSelector(teams);
const teamsRow = await text(page, teams);
if (!/Webhook · Microsoft Teams/.test(teamsRow) || !/••••••••/.test(teamsRow) || /mlw_/.test(teamsRow)) fail('Teams channel row: ' + teamsRow);
log('ok the demo\'s channels, the key masked');

// 2. A Slack channel: its key once, a test message, sent in the log.
await page.click('summary:text-is("New channel")');
await page.selectOption('#nc-kind', 'webhook');
await page.fill('#nc-name', 'Line 2 Slack');
await page.fill('#nc-target', env('MOLEN_HOOK_URL'));
await page.selectOption('#nc-format', 'slack');
await view(page, 'notify-channel-form');
await page.click('button:text-is("Make channel")');
await status(page, /Channel Line 2 Slack made\./);
const key = await page.inputValue('.once input');
if (!/^mlw_/.test(key)) fail('signing key not shown once: ' + key);
await page.waitForSelector('[data-channel="Line 2 Slack"]');
await view(page, 'notify-channels');
if (/mlw_/.test(await text(page, '[data-channel="Line 2 Slack"]'))) fail('the key is in the list');
await page.click('button[aria-label="Send a test message to Line 2 Slack"]');
await status(page, /Test message to Line 2 Slack queued/);
log('ok a Slack channel made, its key shown once, a test message queued');

await go(page, '#/notify/log', 'Delivery log');
// The log follows the hub every 5 s: three test messages sent (the demo's
// two and this one).
await page.waitForFunction(() => [...document.querySelectorAll('[data-delivery][data-state="sent"]')]
  .filter((r) => r.textContent.includes('Test message from molen')).length >= 3);
await view(page, 'notify-log');
log('ok the test messages sent, in the log');

// 2b. The language of messages: Dutch, set by an admin; the next test
// message is written in it.
await go(page, '#/notify/channels', 'Channels');
await page.waitForSelector('[data-message-language] select#ns-language');
if (!/Messages are written in English/.test(await text(page, '[data-message-language]'))) fail('default language');
await page.selectOption('#ns-language', 'nl');
await page.fill('#ns-locale', 'nl-NL');
await page.click('button:text-is("Save language")');
await status(page, /Language of messages saved/);
await page.waitForFunction(() => /Messages are written in Dutch/.test(document.querySelector('[data-message-language]').textContent));
await view(page, 'notify-language');
await page.click('button[aria-label="Send a test message to Line 2 Slack"]');
await status(page, /Test message to Line 2 Slack queued/);
await go(page, '#/notify/log', 'Delivery log');
await page.waitForFunction(() => [...document.querySelectorAll('[data-delivery][data-state="sent"]')]
  .some((r) => r.textContent.includes('Testbericht van molen')));
log('ok messages in Dutch once the organisation chose it');

// 3. A rule for a machine down, by keyboard; changed; deleted.
await go(page, '#/notify/rules', 'Rules');
await page.click('button:text-is("New rule")');
await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'nr-name');
await page.keyboard.type('Line 2 down');
await page.keyboard.press('Tab');
await page.keyboard.press('ArrowDown'); // trigger: machine down
await page.waitForSelector('#nr-minutes');
await page.fill('#nr-minutes', '20');
await page.fill('#nr-prefix', 'demo-factory/hall-a/line-2');
await page.selectOption('#nr-channel', { label: 'Line 2 Slack (Webhook)' });
await page.fill('#nr-qf', '22:00');
await page.fill('#nr-qt', '06:00');
await view(page, 'notify-rule-form');
await page.focus('button:text-is("Save rule")');
await page.keyboard.press('Enter');
await page.waitForSelector('[data-rule="Line 2 down"]');
const row = await text(page, '[data-rule="Line 2 down"]');
if (!/machine down for 20 min/.test(row) || !/22:00–06:00/.test(row) || !/Line 2 Slack/.test(row)) fail('new rule: ' + row);
await page.click('button[aria-label="Edit Line 2 down"]');
await page.fill('#nr-name', 'Line 2 down long');
await page.uncheck('input[name="enabled"]');
await page.click('button:text-is("Save rule")');
await page.waitForSelector('[data-rule="Line 2 down long"].inactive');
await view(page, 'notify-rules-edited');
await page.click('button[aria-label="Delete Line 2 down long"]');
await status(page, /Rule Line 2 down long deleted/);
// The status comes before the list is read again: wait for the row to go.
await page.waitForSelector('[data-rule="Line 2 down long"]', { state: 'detached' });
log('ok a rule made by keyboard, changed and deleted');

// 3b. A rule for an OEE below target, by keyboard: the editor offers the
// target and the shifts instead of minutes.
await page.click('button:text-is("New rule")');
await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'nr-name');
await page.keyboard.type('Low OEE hall A');
await page.keyboard.press('Tab');
await page.keyboard.press('ArrowDown');
await page.keyboard.press('ArrowDown'); // trigger: OEE of a shift below target
await page.waitForSelector('#nr-target');
if (await page.$('#nr-minutes')) fail('an OEE rule asks for minutes');
await page.keyboard.press('Tab');
await page.keyboard.press('Control+A');
await page.keyboard.type('65');
await page.keyboard.press('Tab');
await page.keyboard.type('07:00,15:00,23:00');
await page.fill('#nr-prefix', 'demo-factory/hall-a');
await page.selectOption('#nr-channel', { label: 'Line 2 Slack (Webhook)' });
await view(page, 'notify-rule-oee-form');
await page.focus('button:text-is("Save rule")');
await page.keyboard.press('Enter');
await page.waitForSelector('[data-rule="Low OEE hall A"]');
const oeeRow = await text(page, '[data-rule="Low OEE hall A"]');
if (!/OEE of a shift below 65 % \(shifts 07:00,15:00,23:00\) under demo-factory\/hall-a/.test(oeeRow)) fail('OEE rule: ' + oeeRow);
log('ok an OEE rule made by keyboard');

// 4. Dutch.
await page.selectOption('[data-testid="lang"]', 'nl');
await go(page, '#/notify/log', 'Verzendlog');
await page.waitForSelector('[data-delivery] .badge:text-is("verstuurd")');
await view(page, 'notify-log-nl');
await go(page, '#/notify/rules', 'Regels');
if (!/na 30 min zonder bevestiging/.test(await text(page, '[data-rule="Compressor alarms by e-mail"]'))) fail('Dutch rules');
if (!/edge 10 min offline op elke locatie/.test(await text(page, '[data-rule="An edge offline for 10 minutes"]'))) fail('Dutch edge rule');
if (!/OEE van een ploeg onder 65 % \(ploegen 07:00,15:00,23:00\)/.test(await text(page, '[data-rule="Low OEE hall A"]'))) fail('Dutch OEE rule');
await page.click('button[aria-label="Low OEE hall A wijzigen"]');
await page.waitForSelector('#nr-target');
if (await page.inputValue('#nr-target') !== '65' || await page.inputValue('#nr-shifts') !== '07:00,15:00,23:00') fail('OEE rule read back');
await view(page, 'notify-rule-oee-form-nl');
await view(page, 'notify-rules-nl');
log('ok in Dutch');

await browser.close();
console.log('\nPASS');
