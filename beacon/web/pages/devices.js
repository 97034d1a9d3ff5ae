// #/devices?q=&status=&condition=&os=&sort=&cursor=: the device list
// (GET /api/v1/devices): search by host name or id, filters, sortable
// columns, and pages by the API's cursor. The cursor only goes forward, so
// "Previous" walks back through the cursors this tab has followed.
import {asOf, badge, count, deviceLink, el, errorBox, fill, loaded, loading, statusBadge, table, when}
  from '../dom.js';

export const STATUSES = ['never-connected', 'pending', 'active', 'disconnected'];
export const CONDITIONS = ['policy-out-of-sync', 'outbox-backlog', 'certificate-expiring', 'clone-suspected',
                           'health-errors'];
const FILTERS = ['q', 'status', 'condition', 'os'];
const PAGE = 50;

// The cursors followed to reach each page, per filter and sort ("scope").
const followed = new Map();

function scopeOf(params) {
  return FILTERS.concat(['sort']).map((k) => k + '=' + (params.get(k) || '')).join('&');
}

function hashFor(params, changes) {
  const p = new URLSearchParams(params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined || v === '') p.delete(k);
    else p.set(k, v);
  }
  const s = p.toString();
  return '#/devices' + (s ? '?' + s : '');
}

function select(id, label, values, current, onChange) {
  return el('select', {class: 'form-select form-select-sm', id, 'aria-label': label, on: {change: onChange}},
    el('option', {value: ''}, label + ': any'),
    values.map((v) => el('option', {value: v, selected: v === current}, v)));
}

const COLUMNS = [
  {title: 'Host name', sort: 'hostname', cell: (d) => deviceLink(d.device_id, d.hostname || d.device_id)},
  {title: 'Status', sort: 'status', cell: (d) => el('span', {title: d.why}, statusBadge(d.status))},
  {title: 'Conditions', cell: (d) => d.conditions.map((c) => [badge(c, 'warning'), ' '])},
  {title: 'OS', sort: 'os', cell: (d) => d.os},
  {title: 'Last seen', sort: 'last_seen', cell: (d) => when(d.last_seen, d.last_seen_unix)},
  {title: 'Via', cell: (d) => d.via},
  {title: 'Client', cell: (d) => d.client_version},
  {title: 'Policy', cell: (d) => [String(d.policy_revision), ' ',
                                  d.in_sync ? badge('in sync', 'light') : badge('behind', 'warning')]},
  {title: 'Inventory', sort: 'inventory_at', cell: (d) => when(d.inventory_at, d.inventory_at_unix, 'none yet')},
  {title: 'Errors', class: 'text-end', cell: (d) => (d.open_errors ? badge(String(d.open_errors), 'danger') : '0')},
  {title: 'Warnings', class: 'text-end', cell: (d) => (d.open_warnings ? badge(String(d.open_warnings), 'warning') : '0')},
  {title: 'Actions', class: 'text-end', cell: (d) => String(d.pending_actions)},
];

export function mount(view, ctx) {
  let params = ctx.params;
  let typing = null;
  let generation = 0;
  const go = (changes, opts) => ctx.navigate(hashFor(params, {...changes, cursor: null}), opts);

  const q = el('input', {class: 'form-control form-control-sm', id: 'devices-q', type: 'search',
                         placeholder: 'Host name or device id', 'aria-label': 'Search devices',
                         value: params.get('q') || '', spellcheck: 'false'});
  q.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => go({q: q.value.trim()}, {replace: true}), 300);
  });
  const os = el('input', {class: 'form-control form-control-sm', id: 'devices-os', type: 'search',
                          placeholder: 'OS glob: Debian*', 'aria-label': 'OS', value: params.get('os') || ''});
  os.addEventListener('change', () => go({os: os.value.trim()}));
  const status = select('devices-status', 'Status', STATUSES, params.get('status'),
                        (e) => go({status: e.target.value}));
  const condition = select('devices-condition', 'Condition', CONDITIONS, params.get('condition'),
                           (e) => go({condition: e.target.value}));
  const form = el('form', {class: 'row g-2 mb-3', role: 'search',
                           on: {submit: (e) => {
                             e.preventDefault();
                             clearTimeout(typing);
                             go({q: q.value.trim(), os: os.value.trim()});
                           }}},
    el('div', {class: 'col-md-4'}, q), el('div', {class: 'col-md-2'}, status),
    el('div', {class: 'col-md-2'}, condition), el('div', {class: 'col-md-2'}, os),
    el('div', {class: 'col-md-2'}, el('button', {class: 'btn btn-sm btn-primary', type: 'submit'}, 'Search')));
  const info = el('span', {class: 'text-muted', id: 'devices-total'});
  const results = el('div', {id: 'devices-results'}, loading());
  fill(view, el('div', {class: 'd-flex flex-wrap align-items-baseline gap-3 mb-3'},
    el('h1', {class: 'h3 mb-0'}, 'Devices'), info), form, results);

  const load = async (c) => {
    params = c.params;
    const mine = ++generation;
    // Reflect the hash in the form (back/forward, a link from the summary),
    // but never under the cursor of someone typing.
    if (document.activeElement !== q) q.value = params.get('q') || '';
    if (document.activeElement !== os) os.value = params.get('os') || '';
    status.value = params.get('status') || '';
    condition.value = params.get('condition') || '';
    const sort = params.get('sort') || 'hostname';
    const cursor = params.get('cursor') || '';
    const scope = scopeOf(params);
    if (!followed.has(scope)) followed.set(scope, []);
    const trail = followed.get(scope);
    results.setAttribute('aria-busy', 'true');
    try {
      const page = await c.api.get('/devices', {q: params.get('q'), status: params.get('status'),
                                                condition: params.get('condition'), os: params.get('os'),
                                                sort: params.get('sort'), cursor, limit: PAGE}, c.signal);
      if (mine !== generation) return;
      // Where this page sits: after the pages whose cursors led here.
      const at = cursor ? trail.indexOf(cursor) : -1;
      const first = at < 0 ? (cursor ? null : 0) : (at + 1) * PAGE;
      fill(info, count(page.total) + (page.total === 1 ? ' device' : ' devices'), ' ', asOf(page));
      const prev = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'devices-prev',
                                 disabled: !cursor,
                                 on: {click: () => {
                                   const i = trail.indexOf(cursor);
                                   const back = i > 0 ? trail[i - 1] : null;
                                   c.navigate(hashFor(params, {cursor: back}));
                                 }}}, '\u2190 Previous');
      const next = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'devices-next',
                                 disabled: !page.next_cursor,
                                 on: {click: () => {
                                   const i = cursor ? trail.indexOf(cursor) : -1;
                                   trail.length = i + 1;  // forget a branch not taken
                                   trail.push(page.next_cursor);
                                   c.navigate(hashFor(params, {cursor: page.next_cursor}));
                                 }}}, 'Next \u2192');
      const range = page.items.length === 0 ? '' :
        first === null ? page.items.length + ' shown' :
        'showing ' + count(first + 1) + '\u2013' + count(first + page.items.length) + ' of ' + count(page.total);
      // The pager above the list, where it stays in view with 50 rows below.
      fill(results,
        el('div', {class: 'd-flex align-items-center gap-2 mb-2'}, prev, next,
           el('small', {class: 'text-muted', id: 'devices-range'}, range)),
        page.items.length === 0 ? el('p', {class: 'text-muted', id: 'devices-none'}, 'No device matches.') :
          table(COLUMNS, page.items, {
            sort, onSort: (s) => c.navigate(hashFor(params, {sort: s === 'hostname' ? null : s, cursor: null})),
            rowAttrs: (d) => ({'data-device-id': d.device_id}), class: 'devices'}));
      results.removeAttribute('aria-busy');
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(results, errorBox(e));
    }
  };
  load(ctx);
  return {update: load, destroy: () => clearTimeout(typing)};
}
