// The admin area: organisations, people and roles, invitations, API
// tokens, data sharing (grants and delegations) and the audit log. Shown to
// admins and owners; every change goes through the hub, whose refusals are
// shown as they come.
//
// Hooks for browser tests (keep them stable): [data-member] a member row
// (user ID), [data-invitation], [data-token], [data-grant] rows by ID,
// [data-audit] an audit entry (its action), [data-verify] the verdict.
import {
  html, useState, useApi, api, download, t, lang, useSignal, registerArea, href, withQuery, fmtTime, can,
} from './core.js';
import { at, Refusal, useAction, Once, roleName } from './account.js';
import { OwnQuota, SetQuota } from './quota.js';
import { DataSharing } from './market.js';

registerArea({ id: 'admin', title: 'area.admin', visible: (w) => can(w, 'admin'), view: AdminView });

const TABS = ['people', 'invitations', 'tokens', 'sharing', 'audit', 'orgs'];
const ROLES = ['viewer', 'engineer', 'admin', 'owner'];
// An organisation's ID as the hub takes it (the pattern attribute is read
// in the v mode of regular expressions, where a - must be escaped).
const ORG_ID = '[a-z0-9\\-]{1,40}';

function AdminView({ route, who }) {
  useSignal(lang);
  const tab = TABS.includes(route.path[0]) ? route.path[0] : 'people';
  const View = { people: People, invitations: Invitations, tokens: Tokens, sharing: Sharing, audit: Audit, orgs: Orgs }[tab];
  return html`<h1>${t('area.admin')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('admin.sections')}><ul>
      ${TABS.map((x) => html`<li><a href=${href('admin', [x])} aria-current=${x === tab ? 'page' : undefined}>${t('admin.' + x)}</a></li>`)}
    </ul></nav>
    <${View} key=${tab + who.org} route=${route} who=${who} />`;
}

// Sections holding tables take focus (tabindex 0), so a table wider than
// a phone's screen scrolls by keyboard too.

// Time is what the hub answers for a moment (unix ms or RFC 3339).
const Time = ({ v }) => (v ? html`<time datetime=${new Date(v).toISOString()}>${fmtTime(v)}</time>` : '–');

// ---- organisations -------------------------------------------------------

function Orgs({ who }) {
  const list = useApi('orgs', null, [who.org]);
  const act = useAction();
  const [kind, setKind] = useState('company');
  async function create(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const form = e.target;
    const body = { id: f.get('id'), name: f.get('name'), kind: f.get('kind'), parent: f.get('parent') };
    if (f.get('owner')) body.owner_email = f.get('owner');
    const res = await act.run(() => api('orgs', { method: 'POST', body }), t('orgs.created'));
    if (res) { form.reset(); list.reload(); setLink(res.invitation ? res.invitation.link : ''); }
  }
  const [link, setLink] = useState('');
  const orgs = list.data ? list.data.orgs : [];
  const children = (p) => orgs.filter((o) => (o.parent || '') === p && o.id !== p);
  const roots = orgs.filter((o) => !orgs.some((x) => x.id === o.parent));
  const tree = (o) => html`<li><strong>${o.name}</strong> <code>${o.id}</code> <span class="badge">${o.kind}</span>
    ${children(o.id).length > 0 && html`<ul>${children(o.id).map(tree)}</ul>`}</li>`;
  return html`<section tabindex="0" aria-labelledby="orgs-h">
    <h2 id="orgs-h">${t('orgs.title')}</h2>
    <${Refusal} error=${list.error} />
    <ul class="tree">${roots.map(tree)}</ul>
    <details class="admin">
      <summary>${t('orgs.create')}</summary>
      <p class="note">${t('orgs.explain')}</p>
      <form class="grid-form" onSubmit=${create}>
        <label for="org-id">${t('orgs.id')}</label><input id="org-id" name="id" required pattern=${ORG_ID} aria-describedby="org-id-hint" />
        <span id="org-id-hint" class="meta">${t('orgs.idHint')}</span>
        <label for="org-name">${t('orgs.name')}</label><input id="org-name" name="name" required maxlength="200" />
        <label for="org-kind">${t('orgs.kind')}</label>
        <select id="org-kind" name="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
          ${['company', 'fieldlab', 'hub', 'provider'].map((k) => html`<option value=${k}>${k}</option>`)}
        </select>
        <label for="org-parent">${t('orgs.parent')}</label>
        <select id="org-parent" name="parent" value=${who.org}>${orgs.map((o) => html`<option value=${o.id}>${o.name} (${o.id})</option>`)}</select>
        <label for="org-owner">${t('orgs.owner')}</label><input id="org-owner" name="owner" type="email" autocomplete="off" />
        <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('orgs.create')}</button>
      </form>
    </details>
    ${act.status}
    ${link && html`<${Once} label=${t('invite.link')} value=${link} onClose=${() => setLink('')} />`}
    ${who.role === 'platform-admin' && html`<${SetQuota} orgs=${orgs} />`}
  </section>
  <${OwnQuota} who=${who} />`;
}

// ---- people and roles ----------------------------------------------------

function People({ who }) {
  const list = useApi('members', null, [who.org]);
  const act = useAction();
  const [link, setLink] = useState(null);
  async function role(m, r) {
    if (await act.run(() => api(at('members/{user}', { user: m.user }), { method: 'PUT', body: { role: r } }), t('people.roleSet', { who: m.name || m.email, role: roleName(r) }))) list.reload();
    else list.reload();
  }
  async function remove(m) {
    if (!confirm(t('people.confirmRemove', { who: m.name || m.email }))) return;
    if (await act.run(() => api(at('members/{user}', { user: m.user }), { method: 'DELETE' }), t('people.removed'))) list.reload();
  }
  async function reset(m, totp) {
    const res = await act.run(() => api(at('members/{user}/reset', { user: m.user }), { method: 'POST', body: { second_factor: totp } }));
    if (res) setLink({ who: m.name || m.email, link: res.link });
  }
  const rows = list.data ? list.data.members : [];
  return html`<section tabindex="0" aria-labelledby="people-h">
    <h2 id="people-h">${t('people.title')}</h2>
    <${Refusal} error=${list.error} />
    ${act.status}
    ${link && html`<${Once} label=${t('people.resetLink', { who: link.who })} value=${link.link} onClose=${() => setLink(null)} />`}
    <table class="data">
      <thead><tr><th>${t('people.name')}</th><th>${t('account.email')}</th><th>${t('people.role')}</th><th>${t('people.since')}</th>
        <th>${t('totp.title')}</th><th>${t('admin.actions')}</th></tr></thead>
      <tbody>${rows.map((m) => html`<tr data-member=${m.user} data-email=${m.email}>
        <td>${m.name}</td><td>${m.email}</td>
        <td><label class="sr-only" for=${'role-' + m.user}>${t('people.roleOf', { who: m.name || m.email })}</label>
          <select id=${'role-' + m.user} value=${m.role} onChange=${(e) => role(m, e.target.value)}>
            ${(ROLES.includes(m.role) ? ROLES : [...ROLES, m.role]).map((r) => html`<option value=${r}>${roleName(r)}</option>`)}
          </select></td>
        <td><${Time} v=${m.since} /></td>
        <td>${m.second_factor ? t('totp.enabled') : t('totp.disabled')}</td>
        <td class="actions">
          <button type="button" onClick=${() => reset(m, false)} aria-label=${t('people.resetOf', { who: m.name || m.email })}>${t('people.reset')}</button>
          ${m.second_factor && html`<button type="button" onClick=${() => reset(m, true)}>${t('people.resetTotp')}</button>`}
          ${m.email !== who.email && html`<button type="button" class="danger" onClick=${() => remove(m)} aria-label=${t('people.removeOf', { who: m.name || m.email })}>${t('people.remove')}</button>`}
        </td></tr>`)}</tbody>
    </table>
  </section>`;
}

// ---- invitations ---------------------------------------------------------

function Invitations({ who }) {
  const list = useApi('invitations', null, [who.org]);
  const act = useAction();
  const [link, setLink] = useState('');
  async function create(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const form = e.target;
    const res = await act.run(() => api('invitations', { method: 'POST', body: { email: f.get('email'), role: f.get('role'), days: Number(f.get('days')) } }),
      t('invite.created', { email: f.get('email') }));
    if (res) { setLink(res.link); form.reset(); list.reload(); }
  }
  async function revoke(i) {
    if (await act.run(() => api(at('invitations/{invitation}', { invitation: i.id }), { method: 'DELETE' }), t('invite.revoked', { email: i.email }))) list.reload();
  }
  const rows = list.data ? list.data.invitations : [];
  return html`<section tabindex="0" aria-labelledby="inv-h">
    <h2 id="inv-h">${t('invite.title')}</h2>
    <form class="inline" onSubmit=${create}>
      <label for="inv-email">${t('account.email')}</label><input id="inv-email" name="email" type="email" autocomplete="off" required />
      <label for="inv-role">${t('people.role')}</label>
      <select id="inv-role" name="role">${ROLES.map((r) => html`<option value=${r} selected=${r === 'viewer'}>${roleName(r)}</option>`)}</select>
      <label for="inv-days">${t('invite.days')}</label><input id="inv-days" name="days" type="number" min="1" max="30" value="7" class="narrow" />
      <button type="submit" class="primary" disabled=${act.busy}>${t('invite.create')}</button>
    </form>
    ${act.status}
    ${link && html`<${Once} label=${t('invite.link')} value=${link} onClose=${() => setLink('')} />`}
    <${Refusal} error=${list.error} />
    ${rows.length === 0 ? html`<p class="note">${t('invite.none')}</p>` : html`<table class="data">
      <thead><tr><th>${t('account.email')}</th><th>${t('people.role')}</th><th>${t('admin.created')}</th><th>${t('admin.expires')}</th><th>${t('admin.actions')}</th></tr></thead>
      <tbody>${rows.map((i) => html`<tr data-invitation=${i.id}>
        <td>${i.email}</td><td>${roleName(i.role)}</td><td><${Time} v=${i.created} /></td><td><${Time} v=${i.expires} /></td>
        <td><button type="button" class="danger" onClick=${() => revoke(i)} aria-label=${t('invite.revokeOf', { email: i.email })}>${t('admin.revoke')}</button></td>
      </tr>`)}</tbody></table>`}
  </section>`;
}

// ---- API tokens ----------------------------------------------------------

function Tokens({ who }) {
  const list = useApi('tokens', null, [who.org]);
  const act = useAction();
  const [secret, setSecret] = useState('');
  const [service, setService] = useState(false);
  async function create(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const form = e.target;
    const body = { name: f.get('name'), scopes: f.getAll('scope').join(' '), expires: f.get('expires') };
    if (service) { body.service_account = true; body.role = f.get('role'); }
    const res = await act.run(() => api('tokens', { method: 'POST', body }), t('tokens.created', { name: body.name }));
    if (res) { setSecret(res.token); form.reset(); setService(false); list.reload(); }
  }
  async function revoke(k) {
    if (!confirm(t('tokens.confirmRevoke', { name: k.name }))) return;
    if (await act.run(() => api(at('tokens/{token}', { token: k.id }), { method: 'DELETE' }), t('tokens.revoked', { name: k.name }))) list.reload();
  }
  const rows = list.data ? list.data.tokens : [];
  return html`<section tabindex="0" aria-labelledby="tok-h">
    <h2 id="tok-h">${t('tokens.title')}</h2>
    <form class="grid-form" onSubmit=${create}>
      <label for="tok-name">${t('tokens.name')}</label><input id="tok-name" name="name" required maxlength="100" />
      <span id="tok-scopes-l">${t('tokens.scopes')}</span>
      <div class="inline" role="group" aria-labelledby="tok-scopes-l">
        ${['read', 'write', 'admin'].map((s) => html`<label><input type="checkbox" name="scope" value=${s} checked=${s === 'read'} /> ${s}</label>`)}
      </div>
      <label for="tok-expires">${t('tokens.expires')}</label>
      <select id="tok-expires" name="expires">${['30d', '90d', '365d', '730d'].map((d) => html`<option value=${d} selected=${d === '90d'}>${t('tokens.days', { n: parseInt(d, 10) })}</option>`)}</select>
      <span></span><label><input type="checkbox" checked=${service} onChange=${(e) => setService(e.target.checked)} /> ${t('tokens.service')}</label>
      ${service && html`<label for="tok-role">${t('people.role')}</label>
        <select id="tok-role" name="role">${['viewer', 'engineer', 'admin'].map((r) => html`<option value=${r}>${roleName(r)}</option>`)}</select>`}
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('tokens.create')}</button>
    </form>
    ${act.status}
    ${secret && html`<${Once} label=${t('tokens.secret')} value=${secret} onClose=${() => setSecret('')} />`}
    <${Refusal} error=${list.error} />
    <table class="data">
      <thead><tr><th>${t('tokens.name')}</th><th>${t('people.role')}</th><th>${t('tokens.scopes')}</th><th>${t('admin.created')}</th>
        <th>${t('admin.expires')}</th><th>${t('tokens.lastUsed')}</th><th>${t('admin.actions')}</th></tr></thead>
      <tbody>${rows.map((k) => html`<tr data-token=${k.id} data-name=${k.name} class=${k.active ? '' : 'inactive'}>
        <td>${k.name} ${!k.user && html`<span class="badge">${t('tokens.serviceShort')}</span>`}</td><td>${k.role ? roleName(k.role) : t('tokens.personal')}</td>
        <td>${Array.isArray(k.scopes) ? k.scopes.join(' ') : k.scopes}</td><td><${Time} v=${k.created} /></td><td><${Time} v=${k.expires} /></td>
        <td>${k.last_used ? html`<${Time} v=${k.last_used} />` : t('tokens.never')}</td>
        <td>${k.active ? html`<button type="button" class="danger" onClick=${() => revoke(k)} aria-label=${t('tokens.revokeOf', { name: k.name })}>${t('admin.revoke')}</button>`
          : html`<span class="badge down">${t('admin.revoked')}</span>`}</td>
      </tr>`)}</tbody>
    </table>
  </section>`;
}

// ---- data sharing --------------------------------------------------------

function Sharing({ who }) {
  const grants = useApi('grants', null, [who.org]);
  const dels = useApi('delegations', null, [who.org]);
  const reads = useApi('audit', { action: 'data.read', limit: 50 }, [who.org]);
  const act = useAction();
  async function grant(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const form = e.target;
    const body = { grantee: f.get('grantee'), kind: f.get('kind'), prefix: f.get('prefix'), expires: new Date(f.get('until') + 'T23:59:59').toISOString() };
    if (await act.run(() => api('grants', { method: 'POST', body }), t('grants.created', { grantee: body.grantee }))) { form.reset(); grants.reload(); }
  }
  async function revokeGrant(g) {
    if (await act.run(() => api(at('grants/{grant}', { grant: g.id }), { method: 'DELETE' }), t('grants.revoked', { grantee: g.grantee }))) grants.reload();
  }
  async function delegate(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const form = e.target;
    const body = { advisor_email: f.get('advisor'), role: f.get('role'), hours: Number(f.get('hours')) };
    if (await act.run(() => api('delegations', { method: 'POST', body }), t('dels.created'))) { form.reset(); dels.reload(); }
  }
  async function revokeDel(d) {
    if (await act.run(() => api(at('delegations/{delegation}', { delegation: d.id }), { method: 'DELETE' }), t('dels.revoked'))) dels.reload();
  }
  const given = grants.data ? grants.data.given : [];
  const received = grants.data ? grants.data.received : [];
  const grantRows = (rows, mine) => html`<table class="data">
    <thead><tr><th>${mine ? t('grants.grantee') : t('grants.from')}</th><th>${t('grants.kind')}</th><th>${t('grants.prefix')}</th>
      <th>${t('admin.created')}</th><th>${t('grants.until')}</th><th>${t('admin.actions')}</th></tr></thead>
    <tbody>${rows.map((g) => html`<tr data-grant=${g.id} data-active=${g.active}>
      <td>${mine ? g.grantee : g.org}</td><td>${t('grants.kind.' + g.kind)}</td><td><code>${g.prefix || t('grants.everything')}</code></td>
      <td><${Time} v=${g.created} /></td><td><${Time} v=${g.revoked || g.expires} /></td>
      <td>${g.active ? (mine ? html`<button type="button" class="danger" onClick=${() => revokeGrant(g)} aria-label=${t('grants.revokeOf', { grantee: g.grantee })}>${t('admin.revoke')}</button>` : t('grants.inForce'))
        : html`<span class="badge down">${g.revoked ? t('admin.revoked') : t('admin.expired')}</span>`}</td>
    </tr>`)}</tbody></table>`;
  const delRows = dels.data ? [...(dels.data.given || []), ...(dels.data.received || [])] : [];
  const tomorrowYear = new Date(Date.now() + 180 * 864e5).toISOString().slice(0, 10);
  return html`<section tabindex="0" aria-labelledby="grants-h">
    <h2 id="grants-h">${t('grants.title')}</h2>
    <p class="note">${t('grants.explain')}</p>
    ${act.status}
    <form class="grid-form" onSubmit=${grant}>
      <label for="g-grantee">${t('grants.grantee')}</label><input id="g-grantee" name="grantee" required aria-describedby="g-grantee-hint" />
      <span id="g-grantee-hint" class="meta">${t('grants.granteeHint')}</span>
      <label for="g-kind">${t('grants.kind')}</label>
      <select id="g-kind" name="kind">${['kpi', 'aggregates', 'series'].map((k) => html`<option value=${k}>${t('grants.kind.' + k)}</option>`)}</select>
      <label for="g-prefix">${t('grants.prefix')}</label><input id="g-prefix" name="prefix" placeholder="demo-factory/hall-a" />
      <label for="g-until">${t('grants.until')}</label><input id="g-until" name="until" type="date" required value=${tomorrowYear} />
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('grants.create')}</button>
    </form>
    <${Refusal} error=${grants.error} />
    <h3>${t('grants.given')}</h3>
    ${given.length ? grantRows(given, true) : html`<p class="note">${t('grants.none')}</p>`}
    ${received.length > 0 && html`<h3>${t('grants.received')}</h3>${grantRows(received, false)}`}
    <h3>${t('grants.reads')}</h3>
    <${Refusal} error=${reads.error} />
    ${reads.data && (reads.data.entries.length ? html`<table class="data">
      <thead><tr><th>${t('audit.at')}</th><th>${t('audit.actor')}</th><th>${t('audit.target')}</th><th>${t('audit.detail')}</th></tr></thead>
      <tbody>${reads.data.entries.map((x) => html`<tr><td><${Time} v=${x.at} /></td><td>${x.actor}${x.actor_org ? ' (' + x.actor_org + ')' : ''}</td>
        <td>${x.target}</td><td>${detail(x.detail)}</td></tr>`)}</tbody></table>` : html`<p class="note">${t('grants.noReads')}</p>`)}
    <${DataSharing} who=${who} />
  </section>
  <section tabindex="0" aria-labelledby="dels-h">
    <h2 id="dels-h">${t('dels.title')}</h2>
    <p class="note">${t('dels.explain')}</p>
    <form class="inline" onSubmit=${delegate}>
      <label for="d-advisor">${t('dels.advisor')}</label><input id="d-advisor" name="advisor" type="email" required autocomplete="off" />
      <label for="d-role">${t('people.role')}</label>
      <select id="d-role" name="role">${['viewer', 'engineer'].map((r) => html`<option value=${r}>${roleName(r)}</option>`)}</select>
      <label for="d-hours">${t('dels.hours')}</label><input id="d-hours" name="hours" type="number" min="1" max="2160" value="72" class="narrow" />
      <button type="submit" class="primary" disabled=${act.busy}>${t('dels.create')}</button>
    </form>
    <${Refusal} error=${dels.error} />
    ${delRows.length === 0 ? html`<p class="note">${t('dels.none')}</p>` : html`<table class="data">
      <thead><tr><th>${t('dels.company')}</th><th>${t('dels.advisor')}</th><th>${t('people.role')}</th><th>${t('admin.created')}</th><th>${t('grants.until')}</th><th>${t('admin.actions')}</th></tr></thead>
      <tbody>${delRows.map((d) => html`<tr data-delegation=${d.id}><td>${d.org}</td><td>${d.advisor}</td><td>${roleName(d.role)}</td>
        <td><${Time} v=${d.created} /></td><td><${Time} v=${d.revoked || d.expires} /></td>
        <td>${d.active ? html`<button type="button" class="danger" onClick=${() => revokeDel(d)}>${t('admin.revoke')}</button>` : html`<span class="badge down">${d.revoked ? t('admin.revoked') : t('admin.expired')}</span>`}</td></tr>`)}</tbody></table>`}
  </section>`;
}

const detail = (d) => (d ? Object.entries(d).map(([k, v]) => k + '=' + v).join(', ') : '');

// ---- audit log -----------------------------------------------------------

const AUDIT_RANGES = ['-1h', '-24h', '-7d', '-30d', '-1y'];

function Audit({ route, who }) {
  const q = route.query;
  const from = AUDIT_RANGES.includes(q.get('from')) ? q.get('from') : '-7d';
  const limit = Math.min(1000, Math.max(1, Number(q.get('limit')) || 50));
  const params = { from, action: q.get('action') || '', actor: q.get('actor') || '', before: q.get('before') || '', limit };
  const list = useApi('audit', params, [who.org]);
  const members = useApi('members', null, [who.org]);
  const names = new Map((members.data ? members.data.members : []).map((m) => [m.user, m.name || m.email]));
  const act = useAction();
  const [verdict, setVerdict] = useState(null);
  function filter(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    location.hash = withQuery({ from: f.get('from'), action: f.get('action').trim(), actor: f.get('actor').trim(), before: '' });
  }
  async function verify() {
    const res = await act.run(() => api('audit/verify'));
    if (res) setVerdict(res);
  }
  const rows = list.data ? list.data.entries : [];
  const last = rows.length ? rows[rows.length - 1].seq : 0;
  return html`<section tabindex="0" aria-labelledby="audit-h">
    <h2 id="audit-h">${t('audit.title')}</h2>
    <form class="inline" onSubmit=${filter} key=${route.query.toString()}>
      <label for="a-from">${t('range.label')}</label>
      <select id="a-from" name="from" value=${from}>${AUDIT_RANGES.map((r) => html`<option value=${r}>${t('range.' + r)}</option>`)}</select>
      <label for="a-action">${t('audit.action')}</label>
      <input id="a-action" name="action" defaultValue=${params.action} placeholder="token." list="a-actions" aria-describedby="a-action-hint" />
      <datalist id="a-actions">${['login', 'login.failed', 'member.', 'invitation.created', 'token.', 'grant.', 'delegation.', 'data.read', 'request'].map((a) => html`<option value=${a} />`)}</datalist>
      <label for="a-actor">${t('audit.actor')}</label><input id="a-actor" name="actor" defaultValue=${params.actor} placeholder="usr_…" />
      <button type="submit" class="primary">${t('audit.filter')}</button>
    </form>
    <p id="a-action-hint" class="meta">${t('audit.actionHint')}</p>
    <div class="toolbar">
      <button type="button" onClick=${() => act.run(() => download('audit/export'), (n) => t('data.saved', { name: n }))}>${t('audit.export')}</button>
      <button type="button" onClick=${verify} disabled=${act.busy}>${t('audit.verify')}</button>
      ${verdict && html`<p role="status" data-verify=${verdict.ok ? 'ok' : 'broken'} class=${verdict.ok ? 'ok' : 'error'}>
        ${verdict.ok ? t('audit.verified', { n: verdict.entries }) : t('audit.broken', { problem: verdict.problem })}</p>`}
    </div>
    ${act.status}
    <${Refusal} error=${list.error} />
    ${list.data && (rows.length === 0 ? html`<p class="note">${t('audit.none')}</p>` : html`<table class="data audit">
      <thead><tr><th>#</th><th>${t('audit.at')}</th><th>${t('audit.actor')}</th><th>${t('audit.action')}</th><th>${t('audit.target')}</th><th>${t('audit.detail')}</th><th>${t('audit.addr')}</th></tr></thead>
      <tbody>${rows.map((x) => html`<tr data-audit=${x.action}>
        <td>${x.seq}</td><td><${Time} v=${x.at} /></td>
        <td><a href=${withQuery({ actor: x.actor, before: '' })} title=${t('audit.byActor')}>${names.get(x.actor) || x.actor || '–'}</a>${x.actor_org ? ' (' + x.actor_org + ')' : ''}</td>
        <td>${x.action}</td><td>${x.target}</td><td class="detail">${detail(x.detail)}</td><td>${x.addr}</td></tr>`)}</tbody></table>`)}
    <nav class="toolbar" aria-label=${t('audit.paging')}>
      ${q.get('before') && html`<a class="chip" href=${withQuery({ before: '' })}>${t('audit.newest')}</a>`}
      ${rows.length === params.limit && last > 1 && html`<a class="chip" href=${withQuery({ before: last })}>${t('audit.older')}</a>`}
    </nav>
  </section>`;
}
