// The account and admin screens in a real browser, against a running demo
// hub: sign in as the demo's admin, invite a person and accept the
// invitation in a second browser, give them a role, create an API token
// (shown once, and it works), turn on a second factor (the code computed
// here from the secret) and sign in again with it, share data and consent
// to an advisor and revoke both, download your data, find all of it in the
// audit log, page back, export it and verify the chain, make an
// organisation (and see a refusal), and one screen in Dutch. axe-core must find no serious or critical violation on any
// screen; screenshots go to MOLEN_SCREENSHOTS.
//
// Run by internal/cli's TestAccountsInABrowser, which starts the demo and
// sets MOLEN_URL, MOLEN_EMAIL, MOLEN_PASSWORD, MOLEN_ORG, MOLEN_CHROMIUM
// and a company's owner (MOLEN_COMPANY_EMAIL, MOLEN_COMPANY_PASSWORD) with
// the hub above it (MOLEN_COMPANY_HUB) and an advisor of that hub
// (MOLEN_ADVISOR_EMAIL). Prints one line per step; exits non-zero on the first
// failure.
import { readFileSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import jsQR from 'jsqr';
import {
  env, base, org, log, fail, browser, newPage, clean, view, text, status, signIn, switchOrg, go,
} from './session.mjs';

// totp is RFC 6238's code (SHA-1, 6 digits, 30 s) of a base32 secret for
// the time step `step`.
function totp(secret, step) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(msg).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1e6).padStart(6, '0');
}
// RFC 6238's test vector (SHA-1, T = 59 s): 94287082, of which 6 digits.
if (totp('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 1) !== '287082') fail('totp: wrong code for the RFC 6238 test vector');

const admin = await newPage();
const email = env('MOLEN_EMAIL');
const password = env('MOLEN_PASSWORD');
await signIn(admin, email, password);
log('ok signed in as ' + email);

// 1. Both areas are in the menu; the admin area's organisations.
const nav = await admin.$$eval('#nav a', (as) => as.map((a) => a.textContent));
if (!nav.includes('Your account') || !nav.includes('Admin')) fail('menu: ' + nav.join(', '));
await go(admin, '#/admin/orgs', 'Organisations you may see');
await admin.waitForSelector('.tree li');
const orgs = await admin.$$eval('.tree code', (cs) => cs.map((c) => c.textContent));
if (!orgs.includes(org)) fail(`organisation tree lacks ${org}: ${orgs.join(', ')}`);
await view(admin, 'admin-orgs');
// A company's admin may not make organisations: the refusal is shown.
await admin.click('summary:text-is("Create an organisation")');
await admin.fill('#org-id', 'refused-' + process.pid);
await admin.fill('#org-name', 'Refused B.V.');
// (the response listener lets this one refusal through; the console's
// line about it names no address)
admin.expect = /^403 POST .*\/api\/v1\/orgs$/;
await admin.click('form button:text-is("Create an organisation")');
await admin.waitForFunction(() => /The hub refused this/.test(document.querySelector('main [role="alert"]')?.textContent));
log('ok the refusal to make an organisation is shown');
// As platform admin, a company below a hub, with its first owner's
// invitation shown once.
await switchOrg(admin, 'platform');
await go(admin, '#/admin/orgs', 'Organisations you may see');
await admin.waitForSelector('.tree li');
await admin.click('summary:text-is("Create an organisation")');
const child = 'browser-' + process.pid;
await admin.fill('#org-id', child);
await admin.fill('#org-name', 'Browser Test B.V.');
await admin.selectOption('#org-kind', 'company');
await admin.selectOption('#org-parent', env('MOLEN_COMPANY_HUB'));
await admin.fill('#org-owner', `owner.${process.pid}@example.test`);
await admin.click('form button:text-is("Create an organisation")');
await status(admin, /Organisation created/);
const ownerLink = await admin.getAttribute('[data-secret]', 'data-secret');
if (!/\/auth\/invite\?token=mli_/.test(ownerLink)) fail('first owner\'s invitation: ' + ownerLink);
await admin.waitForFunction((c) => [...document.querySelectorAll('.tree code')].some((e) => e.textContent === c), child);
await view(admin, 'admin-orgs-created');
await switchOrg(admin, org);
log('ok organisation made below ' + env('MOLEN_COMPANY_HUB') + ', its owner\'s invitation shown once');

// 2. An invitation, its link shown once, accepted in a second browser.
const invitee = `new.person.${process.pid}@example.test`;
await go(admin, '#/admin/invitations', 'Invitations');
await admin.fill('#inv-email', invitee);
await admin.selectOption('#inv-role', 'viewer');
await admin.fill('#inv-days', '3');
await admin.click('text=Invite');
await status(admin, /is invited/);
const link = await admin.getAttribute('[data-secret]', 'data-secret');
if (!/\/auth\/invite\?token=mli_/.test(link)) fail('invitation link: ' + link);
await admin.waitForSelector('[data-invitation]');
await view(admin, 'admin-invitations');
log('ok invitation link shown once: ' + link.replace(/token=.*/, 'token=…'));

const guest = await newPage();
await guest.goto(link);
await guest.waitForSelector('input[name=name]');
await view(guest, 'invite-page');
await guest.fill('input[name=name]', 'Nieuwe Collega');
await guest.fill('input[name=password]', 'a long enough password 1');
await guest.click('button[type=submit]');
await guest.waitForSelector('header.top');
guest.signedIn = true;
const guestName = await text(guest, '.user');
if (guestName !== 'Nieuwe Collega') fail('the invited person is signed in as ' + guestName);
const guestNav = await guest.$$eval('#nav a', (as) => as.map((a) => a.textContent));
if (guestNav.includes('Admin')) fail('a viewer sees the admin area');
clean(guest, 'invitation accepted');
log('ok invitation accepted in a second browser; a viewer has no admin area');

// 3. The new person gets a role.
await go(admin, '#/admin/people', 'People and roles');
const row = `tr[data-email="${invitee}"]`;
await admin.waitForSelector(row);
await admin.selectOption(`${row} select`, 'engineer');
await status(admin, /is now engineer/);
await admin.waitForFunction((r) => document.querySelector(r + ' select').value === 'engineer', row);
await view(admin, 'admin-people');
log('ok role changed to engineer');
// A password reset link, shown once, opens the hub's reset page.
await admin.click(`${row} button:text-is("Password reset link")`);
const reset = await admin.getAttribute('[data-secret]', 'data-secret');
if (!/\/auth\/reset\?token=mlr_/.test(reset)) fail('reset link: ' + reset);
await guest.goto(reset);
await guest.waitForSelector('input[name=password][autocomplete=new-password]');
await view(guest, 'reset-page');
log('ok password reset link shown once; its page opens');
// …which the person sees once they load their account again (the reset
// page spent nothing: the session still holds).
await go(guest, '#/account', 'Your account');
const guestRole = await text(guest, '.facts');
if (!guestRole.includes('engineer')) fail('the invited person\'s account says: ' + guestRole);
await view(guest, 'account-invited');

// One screen in Dutch.
await admin.selectOption('#lang-select', 'nl');
await admin.waitForFunction(() => document.documentElement.lang === 'nl' && document.body.textContent.includes('Mensen en rollen'));
await view(admin, 'admin-people-nl');
await admin.selectOption('#lang-select', 'en');
await admin.waitForFunction(() => document.body.textContent.includes('People and roles'));
log('ok people screen in Dutch');

// 4. An API token, shown once; it works; reloaded, the secret is gone.
await go(admin, '#/admin/tokens', 'API tokens');
const tokenName = 'browser-test-' + process.pid;
await admin.fill('#tok-name', tokenName);
await admin.click('button:text-is("Create token")');
await status(admin, /Token .* created/);
const secret = await admin.getAttribute('[data-secret]', 'data-secret');
if (!/^mlt_/.test(secret)) fail('token: ' + secret);
await admin.waitForSelector(`tr[data-name="${tokenName}"]`);
await view(admin, 'admin-tokens');
const whoami = await fetch(base + '/api/v1/whoami', { headers: { Authorization: 'Bearer ' + secret } });
if (whoami.status !== 200) fail('the new token is refused: ' + whoami.status);
await admin.reload();
await admin.waitForSelector(`tr[data-name="${tokenName}"]`);
if (await admin.$('[data-secret]')) fail('the token is shown again after a reload');
if ((await admin.content()).includes(secret)) fail('the token\'s secret is in the page after a reload');
log('ok token shown once, and it works');

// 5. A company shares data with its hub, then revokes it, and finds both
// in its audit log (the demo's factory has no hub above it).
const company = await newPage();
await signIn(company, env('MOLEN_COMPANY_EMAIL'), env('MOLEN_COMPANY_PASSWORD'));
await go(company, '#/admin/sharing', 'Data shared with organisations above you');
await company.fill('#g-grantee', env('MOLEN_COMPANY_HUB'));
await company.selectOption('#g-kind', 'kpi');
await company.fill('#g-prefix', 'plant');
await company.click('button:text-is("Share")');
await status(company, /Shared with/);
await company.waitForSelector('tr[data-grant][data-active="true"]');
await view(company, 'admin-sharing');
await company.click('tr[data-grant][data-active="true"] button');
await status(company, /is revoked/);
await company.waitForSelector('tr[data-grant][data-active="false"]');
// A consent for the hub's advisor, then revoked.
await company.fill('#d-advisor', env('MOLEN_ADVISOR_EMAIL'));
await company.selectOption('#d-role', 'viewer');
await company.fill('#d-hours', '24');
await company.click('button:text-is("Give consent")');
await status(company, /Consent given/);
await company.waitForSelector('tr[data-delegation] button');
await company.click('tr[data-delegation] button');
await status(company, /Consent revoked/);
await company.waitForFunction(() => !document.querySelector('tr[data-delegation] button') && document.querySelector('tr[data-delegation]'));
log('ok consent for an advisor given and revoked');
await go(company, '#/admin/audit?from=-1h&action=grant.', 'Audit log');
await company.waitForSelector('[data-audit="grant.revoked"]');
await company.waitForSelector('[data-audit="grant.created"]');
log('ok grant created and revoked, both in the company\'s audit log');

// 6. A second factor: enrol with a code computed here, sign in again.
await go(admin, '#/account', 'Your account');
await view(admin, 'account');
await admin.click('text=Set up a second factor');
const totpSecret = await admin.getAttribute('[data-totp-secret]', 'data-totp-secret');
const uri = await admin.getAttribute('a[href^="otpauth://"]', 'href');
if (!uri.includes('secret=' + totpSecret)) fail('otpauth link without the secret: ' + uri);
// The QR code, read as a phone's camera would: its pixels as the browser
// drew them, decoded by jsQR, must be the otpauth link.
const qr = await admin.evaluate(() => {
  const img = document.querySelector('img[data-totp-qr]');
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const ctx = c.getContext('2d');
  ctx.drawImage(img, 0, 0);
  return { w: c.width, h: c.height, alt: img.alt, px: Array.from(ctx.getImageData(0, 0, c.width, c.height).data) };
});
const read = qr.w > 0 && jsQR(Uint8ClampedArray.from(qr.px), qr.w, qr.h);
if (!read || read.data !== uri) fail('the QR code does not read as the otpauth link: ' + (read ? read.data : 'no code found'));
if (!qr.alt) fail('the QR code has no text alternative');
log('ok second factor\'s QR code reads as its otpauth link');
await view(admin, 'account-totp');
const step = () => Math.floor(Date.now() / 30000);
const used = step();
await admin.fill('#totp-code', totp(totpSecret, used));
await admin.click('text=Turn on');
await status(admin, /second factor is on/);
await admin.waitForSelector('#totp-password');
log('ok second factor on');
await admin.click('header button:text-is("Sign out")');
await admin.waitForSelector('#email');
admin.signedIn = false;
// The hub takes a code once and accepts the next time step: the code of
// the step after the one used.
await signIn(admin, email, password, () => totp(totpSecret, Math.max(step(), used) + 1));
log('ok signed in again with the second factor');
await go(admin, '#/account', 'Your account');
await admin.waitForSelector('[data-session]');
const sessions = await admin.$$('[data-session]');
if (sessions.length < 1) fail('no sessions listed');
await view(admin, 'account-sessions');
// Your data, downloaded.
const [mine] = await Promise.all([admin.waitForEvent('download'), admin.click('button:text-is("Download my data")')]);
const exported = JSON.parse(readFileSync(await mine.path(), 'utf8'));
if (exported.profile?.email !== email || !Array.isArray(exported.memberships)) fail('my data: ' + JSON.stringify(exported).slice(0, 200));
if (JSON.stringify(exported).includes(totpSecret)) fail('my data holds the second factor\'s secret');
log('ok my data downloaded as ' + mine.suggestedFilename());

// 7. The audit log has it all; the chain verifies.
await go(admin, '#/admin/audit?from=-1h', 'Audit log');
await admin.waitForSelector('[data-audit]');
const actions = await admin.$$eval('[data-audit]', (rs) => rs.map((r) => r.dataset.audit));
for (const a of ['invitation.created', 'member.added', 'member.role', 'token.created']) {
  if (!actions.includes(a)) fail(`audit log lacks ${a}: ${[...new Set(actions)].join(', ')}`);
}
// Paging: three a page, the next page older than the last entry shown.
await go(admin, '#/admin/audit?from=-1h&limit=3', 'Audit log');
await admin.waitForFunction(() => document.querySelectorAll('[data-audit]').length === 3);
const seqs = async () => admin.$$eval('[data-audit] td:first-child', (ts) => ts.map((x) => Number(x.textContent)));
const page1 = await seqs();
if (page1.length !== 3) fail('audit page of 3: ' + page1.join(','));
await admin.click('a:text-is("Older")');
await admin.waitForFunction((last) => { const f = document.querySelector('[data-audit] td:first-child'); return f && Number(f.textContent) < last; }, page1[2]);
const page2 = await seqs();
if (page2[0] !== page1[2] - 1) fail(`older page starts at ${page2[0]}, want ${page1[2] - 1}`);
log('ok audit paging: ' + page1.join(',') + ' then ' + page2.join(','));
await go(admin, '#/admin/audit?from=-1h', 'Audit log');
await admin.fill('#a-action', 'token.');
await admin.click('button:text-is("Filter")');
await admin.waitForFunction(() => { const r = [...document.querySelectorAll('[data-audit]')]; return r.length > 0 && r.every((x) => x.dataset.audit.startsWith('token.')); });
const [log1] = await Promise.all([admin.waitForEvent('download'), admin.click('button:text-is("Export the log")')]);
const lines = readFileSync(await log1.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
if (!lines.some((e) => e.action === 'token.created') || !lines.every((e) => e.hash)) fail('audit export: ' + lines.length + ' lines');
log(`ok audit log exported: ${lines.length} entries with hashes`);
await admin.click('text=Verify the chain');
await admin.waitForSelector('[data-verify]');
const verdict = await admin.getAttribute('[data-verify]', 'data-verify');
if (verdict !== 'ok') fail('audit chain: ' + await text(admin, '[data-verify]'));
await view(admin, 'admin-audit');
log('ok audit log filtered, chain verified');

// 8. A phone's screen, and the dark theme.
await admin.setViewportSize({ width: 390, height: 844 });
await go(admin, '#/admin/tokens', 'API tokens');
await view(admin, 'admin-tokens-phone');
await go(admin, '#/account', 'Your account');
await admin.click('button[aria-pressed]');
await admin.waitForFunction(() => document.documentElement.dataset.theme === 'dark');
await view(admin, 'account-phone-dark');
await go(admin, '#/admin/audit?from=-1h', 'Audit log');
await view(admin, 'admin-audit-phone-dark');

clean(admin, 'end');
clean(guest, 'end');
clean(company, 'end');
await browser.close();
log('PASS');
