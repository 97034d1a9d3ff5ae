// #/device/ID[/TAB]: one device (GET /api/v1/devices/{id}) with tabs:
// overview (OS, addresses, check-ins, inventory, certificate), hardware
// (pages/hardware.js), software (with
// a filter box), usage, uploads, health, actions (queue and cancel with an
// admin token), policy (sync and which group gave each part), files, and the
// time line of its changes. Each tab reads its own endpoint when opened.
import {add, badge, bytes, count, duration, el, errorBox, facts, fill, loaded, loading, statusBadge, table, when}
  from '../dom.js';
import {actionForm, actionsTable, cancelAction} from './actions.js';
import {hardware, hardwareLine} from './hardware.js';

const TABS = {
  overview: 'Overview', hardware: 'Hardware', software: 'Software', usage: 'Usage', uploads: 'Uploads', health: 'Health',
  actions: 'Actions', policy: 'Policy', files: 'Files', changes: 'Time line',
};

function yesNo(v) {
  return v ? 'yes' : 'no';
}

function overview(d) {
  return el('div', {class: 'row'},
    el('div', {class: 'col-lg-6'}, el('h2', {class: 'h6'}, 'Device'), facts([
      ['Device id', el('span', {class: 'mono', id: 'device-id'}, d.device_id)],
      ['Host name', d.hostname],
      ['Operating system', d.os],
      ['Addresses', d.addresses.length ? el('span', {class: 'mono'}, d.addresses.join(', ')) : null],
      ['Hardware', hardwareLine(d.hardware)],
      ['Client version', d.client_version],
      ['Enrolled', when(d.enrolled, d.enrolled_unix)],
      ['First seen', when(d.first_seen, d.first_seen_unix)],
      ['Last seen', when(d.last_seen, d.last_seen_unix)],
      ['Check interval', duration(d.check_interval) + (d.check_interval_default ? ' (the estate default)' : '')],
      ['Through beacons', d.vias.length ? el('ul', {class: 'list-unstyled mb-0'},
        d.vias.map((v) => el('li', null, v.via, ' (', when(v.last_seen, v.last_seen_unix), ')'))) : null],
    ])),
    el('div', {class: 'col-lg-6'}, el('h2', {class: 'h6'}, 'Inventory and state'), facts([
      ['Last inventory', when(d.inventory_at, d.inventory_at_unix, 'none yet')],
      ['Inventory number', String(d.inventory_sequence)],
      ['Packages', count(d.packages)],
      ['Outbox', count(d.outbox_depth) + ' uploads waiting on the device'],
      ['Certificate expires', when(d.certificate_expires, d.certificate_expires_unix, '-')],
      ['Clone suspected', d.clone_suspected ? badge('yes', 'danger') : 'no'],
      ['Open health messages', d.open_errors + ' errors, ' + d.open_warnings + ' warnings'],
      ['Pending actions', String(d.pending_actions)],
      ['Policy', 'revision ' + d.policy.applied_revision + ' applied, ' + d.policy.served_revision + ' served',
        ' ', d.policy.in_sync ? badge('in sync', 'success') : badge('behind', 'warning')],
    ])));
}

// Software: every package, narrowed as the administrator types.
function software(api, id, box, signal) {
  const filter = el('input', {class: 'form-control form-control-sm mb-2', id: 'software-filter', type: 'search',
                              placeholder: 'Filter by name or version', 'aria-label': 'Filter packages',
                              spellcheck: 'false'});
  const shown = el('small', {class: 'text-muted', id: 'software-count'});
  const list = el('div', {id: 'software-list'}, loading());
  add(box, el('div', {class: 'row'}, el('div', {class: 'col-md-4'}, filter), el('div', {class: 'col'}, shown)), list);
  api.get('/devices/' + encodeURIComponent(id) + '/software', null, signal).then((answer) => {
    const render = () => {
      const needle = filter.value.trim().toLowerCase();
      const items = needle ? answer.items.filter((p) =>
        p.name.toLowerCase().includes(needle) || p.version.toLowerCase().includes(needle)) : answer.items;
      shown.textContent = count(items.length) + ' of ' + count(answer.total) + ' packages';
      fill(list, table([
        {title: 'Package', cell: (p) => el('a', {href: '#/software?name=' + encodeURIComponent(p.name)}, p.name)},
        {title: 'Version', class: 'mono', cell: (p) => p.version},
        {title: 'Architecture', cell: (p) => p.arch},
      ], items, {rowAttrs: (p) => ({'data-package': p.name}), class: 'software'}));
    };
    filter.addEventListener('input', render);
    render();
  }).catch((e) => e.name !== 'AbortError' && fill(list, errorBox(e)));
}

function usage(api, id, box, signal) {
  add(box, loading());
  api.get('/devices/' + encodeURIComponent(id) + '/usage', null, signal).then((answer) => {
    fill(box, answer.items.length === 0 ? el('p', {class: 'text-muted'}, 'No usage reported.') : table([
      {title: 'Program', class: 'mono', cell: (u) => u.program},
      {title: 'Running time', class: 'text-end', cell: (u) => duration(u.seconds)},
      {title: 'Launches', class: 'text-end', cell: (u) => count(u.launches)},
      {title: 'Last seen', cell: (u) => when(u.last_seen, u.last_seen_unix)},
    ], answer.items));
  }).catch((e) => e.name !== 'AbortError' && fill(box, errorBox(e)));
}

function uploads(d) {
  if (d.uploads.length === 0) return el('p', {class: 'text-muted'}, 'No uploads yet.');
  return [el('p', {class: 'text-muted small'}, 'The newest 10 uploads, as the central received them.'), table([
    {title: 'Received', cell: (u) => when(u.received, u.received_unix)},
    {title: 'Kind', cell: (u) => u.kind},
    {title: 'Size', class: 'text-end', cell: (u) => bytes(u.size)},
    {title: 'Via', cell: (u) => u.via},
    {title: 'Upload id', class: 'mono', cell: (u) => u.upload_id},
  ], d.uploads)];
}

export function healthTable(items, withSource) {
  return table([
    withSource && {title: 'Source', cell: (h) => h.source_kind === 'device' ?
      el('a', {href: '#/device/' + encodeURIComponent(h.source)}, h.source) : [h.source_kind, ' ', h.source]},
    {title: 'Type', cell: (h) => statusBadge(h.type)},
    {title: 'Message', cell: (h) => [el('div', {class: 'mono small'}, h.id), h.text]},
    {title: 'Component', cell: (h) => h.component},
    {title: 'Priority', class: 'text-end', cell: (h) => String(h.priority)},
    {title: 'Count', class: 'text-end', cell: (h) => count(h.count)},
    {title: 'First seen', cell: (h) => when(h.first_seen, h.first_seen_unix)},
    {title: 'Last seen', cell: (h) => when(h.last_seen, h.last_seen_unix)},
    {title: 'Cleared', cell: (h) => when(h.cleared, h.cleared_unix, 'open')},
  ].filter(Boolean), items, {class: 'health'});
}

function health(d) {
  if (d.health.length === 0) return el('p', {class: 'text-muted'}, 'No open health messages.');
  return healthTable(d.health, false);
}

function actions(ctx, d, box, reload) {
  const problems = el('div');
  const cancel = ctx.role === 'admin' ? (a) => cancelAction(ctx.api, a, problems, reload) : null;
  add(box, 
    ctx.role === 'admin' ? actionForm(ctx.api, {device: d.device_id, onCreated: reload}) :
      el('p', {class: 'text-muted small', id: 'actions-read-only'},
        'This token may only read: queueing and cancelling actions needs an admin token.'),
    problems, actionsTable(d.actions, {cancel, showDevice: false}));
}

function policy(api, d, box, signal) {
  const p = d.policy;
  add(box, facts([
    ['Applied revision', String(p.applied_revision)],
    ['Served revision', [String(p.served_revision), ' (since ', when(p.served_since, p.served_since_unix, '-'), ')']],
    ['Newest published', String(p.published_revision)],
    ['In sync', p.in_sync ? badge('yes', 'success') : badge('no', 'warning')],
  ]));
  const resolution = el('div', {id: 'resolution'}, loading());
  add(box, el('h2', {class: 'h6 mt-3'}, 'Which group gave each part'), resolution);
  api.get('/devices/' + encodeURIComponent(d.device_id) + '/resolution', null, signal).then((r) => {
    fill(resolution, 
      el('p', null, 'Groups: ', r.groups.length ? r.groups.join(', ') : 'none', ' (revision ' + r.revision + ')'),
      table([
        {title: 'File', class: 'mono', cell: (o) => o.file},
        {title: 'Part', cell: (o) => o.part},
        {title: 'Group', cell: (o) => o.group},
      ], r.origins),
      r.files.map((f) => el('details', {class: 'mb-2'}, el('summary', {class: 'mono'}, f.name),
                            el('pre', {class: 'policy-file'}, f.content))));
  }).catch((e) => e.name !== 'AbortError' && fill(resolution, errorBox(e)));
}

function files(api, id, box, signal) {
  add(box, loading());
  api.get('/devices/' + encodeURIComponent(id) + '/files', null, signal).then((answer) => {
    fill(box, answer.items.length === 0 ?
      el('p', {class: 'text-muted'}, 'No file evidence (policy.xml <file-evidence> selects the files).') : table([
        {title: 'Path', class: 'mono', cell: (f) => f.path},
        {title: 'Size', class: 'text-end', cell: (f) => bytes(f.size)},
        {title: 'Modified', cell: (f) => when(f.modified, f.modified_unix, '-')},
        {title: 'SHA-256', class: 'mono small', cell: (f) => f.sha256},
      ], answer.items));
  }).catch((e) => e.name !== 'AbortError' && fill(box, errorBox(e)));
}

// The time line, newest first.
function changes(api, id, box, signal) {
  add(box, loading());
  api.get('/devices/' + encodeURIComponent(id) + '/changes', null, signal).then((answer) => {
    const items = answer.items.slice().reverse();
    fill(box, items.length === 0 ? el('p', {class: 'text-muted'}, 'No changes recorded yet.') : table([
      {title: 'When', cell: (c) => when(c.at, c.at_unix)},
      {title: 'Part', cell: (c) => c.part},
      {title: 'Item', class: 'mono', cell: (c) => c.key},
      {title: 'Change', cell: (c) => c.change},
      {title: 'Before', class: 'mono', cell: (c) => c.before},
      {title: 'After', class: 'mono', cell: (c) => c.after},
    ], items, {class: 'timeline'}));
  }).catch((e) => e.name !== 'AbortError' && fill(box, errorBox(e)));
}

export function mount(view, ctx) {
  const id = ctx.segments[0] || '';
  let device = null;
  let tab = 'overview';
  let current = ctx;
  let generation = 0;
  const header = el('div', {class: 'mb-3'});
  const tabs = el('ul', {class: 'nav nav-tabs mb-3', role: 'tablist'});
  const body = el('div', {id: 'device-tab'});
  fill(view, header, tabs, body);

  const showTab = () => {
    fill(tabs, ...Object.entries(TABS).map(([t, title]) => el('li', {class: 'nav-item'},
      el('a', {class: 'nav-link' + (t === tab ? ' active' : ''), href: '#/device/' + encodeURIComponent(id) + '/' + t,
               'data-tab': t, 'aria-current': t === tab ? 'page' : null}, title))));
    const box = el('div', {'data-tab-body': tab});
    fill(body, box);
    const reload = () => load(current, true);
    switch (tab) {
      case 'hardware': return hardware(current.api, device, box, current.signal);
      case 'software': return software(current.api, id, box, current.signal);
      case 'usage': return usage(current.api, id, box, current.signal);
      case 'uploads': return add(box, uploads(device));
      case 'health': return add(box, health(device));
      case 'actions': return actions(current, device, box, reload);
      case 'policy': return policy(current.api, device, box, current.signal);
      case 'files': return files(current.api, id, box, current.signal);
      case 'changes': return changes(current.api, id, box, current.signal);
      default: return add(box, overview(device));
    }
  };

  // Reads the device (again when `fresh`, after an action changed), then
  // shows the tab the hash names.
  const load = async (c, fresh) => {
    current = c;
    tab = TABS[c.segments[1]] ? c.segments[1] : 'overview';
    const mine = ++generation;
    try {
      if (!device || fresh) {
        if (!device) fill(body, loading());
        device = await c.api.get('/devices/' + encodeURIComponent(id), null, c.signal);
        if (mine !== generation) return;
        fill(header, 
          el('h1', {class: 'h3', id: 'device-hostname'}, device.hostname || device.device_id),
          el('div', {class: 'd-flex flex-wrap gap-2 align-items-center'},
            statusBadge(device.status), el('span', {class: 'text-muted', id: 'device-why'}, device.why),
            device.conditions.map((x) => badge(x, 'warning'))));
        document.title = 'beacon: ' + (device.hostname || device.device_id);
      }
      if (mine !== generation) return;
      showTab();
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(body, errorBox(e));
    }
  };
  load(ctx, false);
  return {update: (c) => load(c, false)};
}
