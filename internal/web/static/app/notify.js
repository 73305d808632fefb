// The notifications area: the organisation's rules (what is worth a
// message, to which channel, escalation and quiet hours), its channels
// (e-mail, webhooks in JSON, Teams or Slack format, MQTT; admins make them,
// a webhook's signing key is shown once) and the delivery log, with each
// message's outcome and a retry. The hub sends the messages itself; this
// area only configures and shows them (docs/notifications.md).
//
// Hooks for browser tests (keep them stable): [data-rule] a rule's row
// (its name), [data-channel] a channel's row (its name), [data-delivery] a
// delivery's row (its state in data-state).
import {
  html, useState, useEffect, useApi, api, t, lang, useSignal, registerArea, href, fmtTime, can,
} from './core.js';
import { at, Refusal, useAction, Once } from './account.js';

registerArea({ id: 'notify', title: 'area.notify', visible: (w) => can(w, 'viewer'), view: NotifyView });

const TABS = ['rules', 'log', 'channels'];

function NotifyView({ route, who }) {
  useSignal(lang);
  const tabs = TABS.filter((x) => x !== 'channels' || can(who, 'engineer'));
  const tab = tabs.includes(route.path[0]) ? route.path[0] : 'rules';
  const View = { rules: Rules, log: Log, channels: Channels }[tab];
  return html`<h1>${t('area.notify')} <small>${who.org}</small></h1>
    <nav class="tabs" aria-label=${t('notify.sections')}><ul>
      ${tabs.map((x) => html`<li><a href=${href('notify', [x])} aria-current=${x === tab ? 'page' : undefined}>${t('notify.' + x)}</a></li>`)}
    </ul></nav>
    <${View} key=${tab + who.org} route=${route} who=${who} />`;
}

const Time = ({ v }) => (v && !v.startsWith('0001') ? html`<time datetime=${new Date(v).toISOString()}>${fmtTime(Date.parse(v))}</time>` : '–');

// ---- rules ---------------------------------------------------------------

function Rules({ who }) {
  const rules = useApi('notify/rules', null, [who.org]);
  const engineer = can(who, 'engineer');
  const channels = useApi(engineer ? 'notify/channels' : null, null, [who.org]);
  const act = useAction();
  const [editing, setEditing] = useState(null); // null, 'new' or a rule
  const chans = (channels.data && channels.data.channels) || [];
  const chanName = (id) => (chans.find((c) => c.id === id) || {}).name || id;
  async function remove(r) {
    if (!confirm(t('notify.confirmDelete', { name: r.name }))) return;
    if (await act.run(() => api(at('notify/rules/{rule}', { rule: r.id }), { method: 'DELETE' }), t('notify.ruleDeleted', { name: r.name }))) rules.reload();
  }
  const list = (rules.data && rules.data.rules) || [];
  return html`<section tabindex="0" aria-labelledby="nr-h">
    <h2 id="nr-h">${t('notify.rules')}</h2>
    <p class="note">${t('notify.rulesExplain')}</p>
    <${Refusal} error=${rules.error} />
    ${act.status}
    ${list.length === 0 && rules.data ? html`<p>${t('notify.noRules')}</p>` : html`<table class="data">
      <thead><tr><th scope="col">${t('notify.name')}</th><th scope="col">${t('notify.when')}</th><th scope="col">${t('notify.channel')}</th>
        <th scope="col">${t('notify.escalation')}</th><th scope="col">${t('notify.quiet')}</th><th scope="col">${t('notify.state')}</th>
        ${engineer && html`<th scope="col">${t('admin.actions')}</th>`}</tr></thead>
      <tbody>${list.map((r) => html`<tr data-rule=${r.name} class=${r.enabled ? '' : 'inactive'}>
        <th scope="row">${r.name}</th>
        <td>${r.trigger === 'alarm' ? t('notify.alarmRaised') : r.trigger === 'oee_below' ? t('notify.for.oee_below', { n: r.target, shifts: r.shifts || defaultShifts })
          : t('notify.for.' + r.trigger, { n: r.minutes })} ${edgeTrigger(r.trigger) && !r.prefix ? t('notify.everySite') : html`${t(edgeTrigger(r.trigger) ? 'notify.atSite' : 'notify.under')} <code>${r.prefix || '*'}</code>`}</td>
        <td>${chanName(r.channel)}</td>
        <td>${r.escalate_to ? t('notify.escalateAfter', { name: chanName(r.escalate_to), n: r.escalate_minutes }) : '–'}</td>
        <td>${r.quiet_from ? `${r.quiet_from}–${r.quiet_to} (${r.tz})` : '–'}</td>
        <td>${r.enabled ? t('notify.on') : html`<span class="badge">${t('notify.off')}</span>`}</td>
        ${engineer && html`<td class="inline">
          <button type="button" onClick=${() => setEditing(r)} aria-label=${t('notify.editOf', { name: r.name })}>${t('notify.edit')}</button>
          <button type="button" class="danger" onClick=${() => remove(r)} aria-label=${t('notify.deleteOf', { name: r.name })}>${t('notify.delete')}</button>
        </td>`}
      </tr>`)}</tbody>
    </table>`}
    ${engineer && !editing && html`<p><button type="button" class="primary" onClick=${() => setEditing('new')}>${t('notify.newRule')}</button></p>`}
    ${engineer && chans.length === 0 && channels.data && html`<p class="note">${t('notify.needChannel')}${' '}
      ${can(who, 'admin') && html`<a href=${href('notify', ['channels'])}>${t('notify.channels')}</a>`}</p>`}
    ${editing && html`<${RuleForm} key=${editing === 'new' ? 'new' : editing.id} rule=${editing === 'new' ? null : editing} chans=${chans}
      onDone=${() => { setEditing(null); rules.reload(); }} onCancel=${() => setEditing(null)} />`}
  </section>`;
}

// triggers are what a rule can watch: events of machines, and the
// conditions of edges the fleet's reports show.
const triggers = ['alarm', 'down', 'oee_below', 'edge_offline', 'edge_buffer', 'input_down'];
// defaultShifts is the hub's shift calendar of a rule that names none.
const defaultShifts = '06:00,14:00,22:00';
// minutesTrigger: the triggers of a condition that lasts for minutes.
const minutesTrigger = (k) => k !== 'alarm' && k !== 'oee_below';
const edgeTrigger = (k) => k.startsWith('edge_') || k === 'input_down';

// RuleForm makes or changes a rule; its fields are uncontrolled (read on
// submit) but for the trigger, which decides which fields show.
function RuleForm({ rule, chans, onDone, onCancel }) {
  const act = useAction();
  const [trigger, setTrigger] = useState(rule ? rule.trigger : 'alarm');
  const r = rule || { name: '', prefix: '', minutes: 10, channel: '', escalate_to: '', escalate_minutes: 15, quiet_from: '', quiet_to: '', tz: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', enabled: true };
  useEffect(() => { const el = document.getElementById('nr-name'); if (el) el.focus(); }, []);
  async function submit(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = {
      name: f.get('name'), trigger, prefix: f.get('prefix') || '', channel: f.get('channel'),
      quiet_from: f.get('quiet_from') || '', quiet_to: f.get('quiet_to') || '', tz: f.get('tz') || 'UTC', enabled: f.get('enabled') === 'on',
    };
    if (minutesTrigger(trigger)) body.minutes = Number(f.get('minutes'));
    if (trigger === 'oee_below') { body.target = Number(f.get('target')); body.shifts = f.get('shifts') || ''; }
    if (trigger === 'alarm' && f.get('escalate_to')) { body.escalate_to = f.get('escalate_to'); body.escalate_minutes = Number(f.get('escalate_minutes')); }
    const res = await act.run(() => (rule
      ? api(at('notify/rules/{rule}', { rule: rule.id }), { method: 'PUT', body })
      : api('notify/rules', { method: 'POST', body })), t('notify.ruleSaved', { name: body.name }));
    if (res) onDone();
  }
  return html`<form class="grid-form panel" onSubmit=${submit} aria-labelledby="nr-form-h" data-rule-form>
    <h3 id="nr-form-h">${rule ? t('notify.editRule', { name: rule.name }) : t('notify.newRule')}</h3>
    <span></span>
    <label for="nr-name">${t('notify.name')}</label><input id="nr-name" name="name" required maxlength="100" defaultValue=${r.name} />
    <label for="nr-trigger">${t('notify.when')}</label>
    <select id="nr-trigger" value=${trigger} onChange=${(e) => setTrigger(e.target.value)}>
      ${triggers.map((k) => html`<option value=${k}>${t('notify.trigger.' + k)}</option>`)}
    </select>
    ${minutesTrigger(trigger) && html`<label for="nr-minutes">${t('notify.minutes.' + trigger)}</label>
      <input id="nr-minutes" name="minutes" type="number" min="1" max="10080" required defaultValue=${r.minutes || 10} />`}
    ${trigger === 'oee_below' && html`<label for="nr-target">${t('notify.oeeTarget')}</label>
      <input id="nr-target" name="target" type="number" min="1" max="100" required defaultValue=${r.target || 60} />
      <label for="nr-shifts">${t('notify.oeeShifts')}</label>
      <input id="nr-shifts" name="shifts" defaultValue=${r.shifts || ''} placeholder=${defaultShifts} pattern="[0-2][0-9]:[0-5][0-9](,[0-2][0-9]:[0-5][0-9])*" aria-describedby="nr-shifts-hint" />
      <span></span><span id="nr-shifts-hint" class="meta">${t('notify.oeeShiftsHint')}</span>`}
    <label for="nr-prefix">${t(edgeTrigger(trigger) ? 'notify.site' : 'notify.prefix')}</label>
    <input id="nr-prefix" name="prefix" defaultValue=${r.prefix} placeholder=${edgeTrigger(trigger) ? 'hall-1' : 'site/area/line'} aria-describedby="nr-prefix-hint" />
    <span></span><span id="nr-prefix-hint" class="meta">${t(edgeTrigger(trigger) ? 'notify.siteHint' : 'notify.prefixHint')}</span>
    <label for="nr-channel">${t('notify.channel')}</label>
    <select id="nr-channel" name="channel" required>
      ${chans.map((c) => html`<option value=${c.id} selected=${c.id === r.channel}>${c.name} (${t('notify.kind.' + c.kind)})</option>`)}
    </select>
    ${trigger === 'alarm' && html`<label for="nr-esc">${t('notify.escalateTo')}</label>
      <select id="nr-esc" name="escalate_to">
        <option value="">${t('notify.noEscalation')}</option>
        ${chans.map((c) => html`<option value=${c.id} selected=${c.id === r.escalate_to}>${c.name}</option>`)}
      </select>
      <label for="nr-esc-min">${t('notify.escalateMinutes')}</label>
      <input id="nr-esc-min" name="escalate_minutes" type="number" min="1" max="1440" defaultValue=${r.escalate_minutes || 15} />`}
    <label for="nr-qf">${t('notify.quietFrom')}</label><input id="nr-qf" name="quiet_from" type="time" defaultValue=${r.quiet_from} />
    <label for="nr-qt">${t('notify.quietTo')}</label><input id="nr-qt" name="quiet_to" type="time" defaultValue=${r.quiet_to} />
    <label for="nr-tz">${t('notify.tz')}</label><input id="nr-tz" name="tz" defaultValue=${r.tz} />
    <span></span><label><input type="checkbox" name="enabled" defaultChecked=${r.enabled} /> ${t('notify.enabled')}</label>
    <span></span><div class="inline">
      <button type="submit" class="primary" disabled=${act.busy}>${t('notify.save')}</button>
      <button type="button" onClick=${onCancel}>${t('notify.cancel')}</button>
    </div>
    <span></span><div>${act.status}</div>
  </form>`;
}

// ---- channels ------------------------------------------------------------

function Channels({ who }) {
  const list = useApi('notify/channels', null, [who.org]);
  const act = useAction();
  const admin = can(who, 'admin');
  const [kind, setKind] = useState('email');
  const [secret, setSecret] = useState('');
  async function create(e) {
    e.preventDefault();
    const form = e.target;
    const f = new FormData(form);
    const body = { name: f.get('name'), kind, target: f.get('target') };
    if (kind === 'webhook') body.format = f.get('format');
    if (kind === 'mqtt') { body.topic = f.get('topic'); body.username = f.get('username') || ''; body.password = f.get('password') || ''; }
    const res = await act.run(() => api('notify/channels', { method: 'POST', body }), t('notify.channelCreated', { name: body.name }));
    if (res) { form.reset(); setSecret(kind === 'webhook' ? res.secret : ''); list.reload(); }
  }
  async function test(c) {
    await act.run(() => api(at('notify/channels/{channel}/test', { channel: c.id }), { method: 'POST' }), t('notify.testQueued', { name: c.name }));
  }
  async function remove(c) {
    if (!confirm(t('notify.confirmDelete', { name: c.name }))) return;
    if (await act.run(() => api(at('notify/channels/{channel}', { channel: c.id }), { method: 'DELETE' }), t('notify.channelDeleted', { name: c.name }))) list.reload();
  }
  const chans = (list.data && list.data.channels) || [];
  const targetLabel = { email: 'notify.addresses', webhook: 'notify.url', mqtt: 'notify.broker' }[kind];
  return html`<section tabindex="0" aria-labelledby="nc-h">
    <h2 id="nc-h">${t('notify.channels')}</h2>
    <p class="note">${t('notify.channelsExplain')}</p>
    ${list.data && !list.data.email && html`<p class="note" data-no-smtp>${t('notify.noSmtp')}</p>`}
    <${Refusal} error=${list.error} />
    ${act.status}
    ${secret && html`<${Once} label=${t('notify.signingKey')} value=${secret} onClose=${() => setSecret('')} />`}
    ${chans.length === 0 && list.data ? html`<p>${t('notify.noChannels')}</p>` : html`<table class="data">
      <thead><tr><th scope="col">${t('notify.name')}</th><th scope="col">${t('notify.kind')}</th><th scope="col">${t('notify.target')}</th>
        <th scope="col">${t('notify.secret')}</th><th scope="col">${t('admin.actions')}</th></tr></thead>
      <tbody>${chans.map((c) => html`<tr data-channel=${c.name}>
        <th scope="row">${c.name}</th>
        <td>${t('notify.kind.' + c.kind)}${c.format ? ' · ' + t('notify.format.' + c.format) : ''}</td>
        <td><code>${c.target}</code>${c.topic ? html` <code>${c.topic}</code>` : ''}</td>
        <td>${c.secret ? html`<span aria-label=${t('notify.secretSet')}>••••••••</span>` : '–'}</td>
        <td class="inline">
          <button type="button" onClick=${() => test(c)} aria-label=${t('notify.testOf', { name: c.name })}>${t('notify.test')}</button>
          ${admin && html`<button type="button" class="danger" onClick=${() => remove(c)} aria-label=${t('notify.deleteOf', { name: c.name })}>${t('notify.delete')}</button>`}
        </td>
      </tr>`)}</tbody>
    </table>`}
    ${admin && html`<details class="admin">
      <summary>${t('notify.newChannel')}</summary>
      <form class="grid-form" onSubmit=${create}>
        <label for="nc-kind">${t('notify.kind')}</label>
        <select id="nc-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
          ${['email', 'webhook', 'mqtt'].map((k) => html`<option value=${k}>${t('notify.kind.' + k)}</option>`)}
        </select>
        <label for="nc-name">${t('notify.name')}</label><input id="nc-name" name="name" required maxlength="100" />
        <label for="nc-target">${t(targetLabel)}</label>
        <input id="nc-target" name="target" required key=${kind} type=${kind === 'webhook' ? 'url' : 'text'}
          placeholder=${{ email: 'maintenance@example.com, +…', webhook: 'https://…', mqtt: 'tcp://broker:1883' }[kind]} />
        ${kind === 'webhook' && html`<label for="nc-format">${t('notify.format')}</label>
          <select id="nc-format" name="format">${['teams', 'slack', 'json'].map((x) => html`<option value=${x}>${t('notify.format.' + x)}</option>`)}</select>`}
        ${kind === 'mqtt' && html`<label for="nc-topic">${t('notify.topic')}</label><input id="nc-topic" name="topic" required />
          <label for="nc-user">${t('notify.username')}</label><input id="nc-user" name="username" autocomplete="off" />
          <label for="nc-pass">${t('notify.password')}</label><input id="nc-pass" name="password" type="password" autocomplete="new-password" />`}
        <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('notify.createChannel')}</button>
      </form>
    </details>`}
    <${MessageLanguage} who=${who} />
  </section>`;
}

// MessageLanguage shows, and lets admins set, the language of the
// organisation's messages: set, or from its locale.
function MessageLanguage({ who }) {
  const settings = useApi('notify/settings', null, [who.org]);
  const act = useAction();
  const admin = can(who, 'admin');
  const st = settings.data;
  async function save(e) {
    e.preventDefault();
    const f = new FormData(e.target);
    const body = { locale: f.get('locale') || '', language: f.get('language') || '' };
    if (await act.run(() => api('notify/settings', { method: 'PUT', body }), t('notify.languageSaved'))) settings.reload();
  }
  return html`<section aria-labelledby="ns-h" data-message-language>
    <h3 id="ns-h">${t('notify.messageLanguage')}</h3>
    <${Refusal} error=${settings.error} />
    ${st && html`<p>${t('notify.messagesIn', { language: t('notify.language.' + st.effective) })}</p>
    ${admin && html`<form class="grid-form" onSubmit=${save} key=${st.locale + st.language}>
      <label for="ns-language">${t('notify.languageField')}</label>
      <select id="ns-language" name="language" defaultValue=${st.language}>
        ${['', 'nl', 'en'].map((l) => html`<option value=${l} selected=${l === st.language}>${t(l ? 'notify.language.' + l : 'notify.languageFromLocale')}</option>`)}
      </select>
      <label for="ns-locale">${t('notify.locale')}</label>
      <input id="ns-locale" name="locale" defaultValue=${st.locale} placeholder="nl-NL" maxlength="35" aria-describedby="ns-locale-hint" />
      <span></span><span id="ns-locale-hint" class="meta">${t('notify.localeHint')}</span>
      <span></span><button type="submit" class="primary" disabled=${act.busy}>${t('notify.saveLanguage')}</button>
      <span></span><div>${act.status}</div>
    </form>`}`}
  </section>`;
}

// ---- delivery log --------------------------------------------------------

function Log({ who, route }) {
  const state = route.query.get('state') || '';
  const log = useApi('notify/deliveries', state ? { state } : null, [who.org, state]);
  const channels = useApi(can(who, 'engineer') ? 'notify/channels' : null, null, [who.org]);
  const act = useAction();
  // The hub sends while nobody looks; the log follows it every 5 s.
  useEffect(() => { const id = setInterval(() => log.reload(), 5000); return () => clearInterval(id); }, [state]);
  const chanName = (id) => (((channels.data && channels.data.channels) || []).find((c) => c.id === id) || {}).name || id;
  async function retry(d) {
    if (await act.run(() => api(at('notify/deliveries/{delivery}/retry', { delivery: d.id }), { method: 'POST' }), t('notify.retried'))) log.reload();
  }
  const rows = (log.data && log.data.deliveries) || [];
  return html`<section tabindex="0" aria-labelledby="nl-h">
    <h2 id="nl-h">${t('notify.log')}</h2>
    <div class="inline">
      <label for="nl-state">${t('notify.state')}</label>
      <select id="nl-state" value=${state} onChange=${(e) => { location.hash = href('notify', ['log'], e.target.value ? { state: e.target.value } : {}); }}>
        ${['', 'pending', 'sent', 'failed'].map((s) => html`<option value=${s}>${s ? t('notify.st.' + s) : t('notify.all')}</option>`)}
      </select>
      <button type="button" onClick=${() => log.reload()}>${t('notify.refresh')}</button>
    </div>
    <${Refusal} error=${log.error} />
    ${act.status}
    ${rows.length === 0 && log.data ? html`<p>${t('notify.noDeliveries')}</p>` : html`<table class="data">
      <thead><tr><th scope="col">${t('notify.queued')}</th><th scope="col">${t('notify.message')}</th><th scope="col">${t('notify.channel')}</th>
        <th scope="col">${t('notify.state')}</th><th scope="col">${t('notify.attempts')}</th><th scope="col">${t('notify.outcome')}</th>
        ${can(who, 'engineer') && html`<th scope="col">${t('admin.actions')}</th>`}</tr></thead>
      <tbody>${rows.map((d) => html`<tr data-delivery=${d.id} data-state=${d.state}>
        <td><${Time} v=${d.created} /></td>
        <th scope="row">${d.level > 0 && html`<span class="badge">${t('notify.escalated')}</span> `}${d.message.title}
          ${d.message.rule && html`<br /><small class="meta">${t('notify.byRule', { name: d.message.rule })}</small>`}</th>
        <td>${chanName(d.channel)}</td>
        <td><span class=${'badge ' + ({ sent: 'running', failed: 'down', pending: 'idle' }[d.state] || '')}>${t('notify.st.' + d.state)}</span>
          ${d.acked && html` <span class="badge">${t('notify.acked')}</span>`}</td>
        <td>${d.attempts}</td>
        <td>${d.state === 'sent' ? html`<${Time} v=${d.sent_at} />`
          : html`${d.last_error && html`<span class="error">${d.last_error}</span><br />`}${d.state === 'pending' && html`<small>${t('notify.dueAt')} <${Time} v=${d.next_at} /></small>`}`}</td>
        ${can(who, 'engineer') && html`<td>${d.state !== 'sent' && html`<button type="button" onClick=${() => retry(d)}
          aria-label=${t('notify.retryOf', { title: d.message.title })}>${t('notify.retry')}</button>`}</td>`}
      </tr>`)}</tbody>
    </table>`}
  </section>`;
}
