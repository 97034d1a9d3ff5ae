// #/actions?state=: the actions queued for devices (GET /api/v1/actions),
// and, with an admin token, a form to queue one for a device or a group
// (POST /api/v1/actions) and a Cancel button for a pending or delivered one
// (POST /api/v1/actions/{id}/cancel). A read token sees neither.
import {clear, deviceLink, el, errorBox, fill, heading, loaded, loading, statusBadge, table, when} from '../dom.js';

const STATES = ['pending', 'delivered', 'done', 'failed', 'expired', 'cancelled'];
const KINDS = {
  inventory: 'collect the inventory now', logs: 'upload logs', policy: 'check policy now',
  diagnose: 'run diagnostics and upload the bundle',
};
const EXPIRIES = {'1 hour': 3600, '24 hours': 86400, '7 days': 7 * 86400, '30 days': 30 * 86400};

// The table of actions; with `cancel` (admin), pending and delivered ones get
// a Cancel button calling cancel(action).
export function actionsTable(items, {cancel, showDevice = true} = {}) {
  if (items.length === 0) return el('p', {class: 'text-muted', id: 'actions-none'}, 'No actions.');
  const columns = [
    {title: 'Created', cell: (a) => when(a.created, a.created_unix)},
    {title: 'Kind', cell: (a) => a.kind},
    showDevice && {title: 'Device', cell: (a) => deviceLink(a.device_id)},
    {title: 'Group', cell: (a) => a.group || '-'},
    {title: 'State', cell: (a) => el('span', {class: 'action-state'}, statusBadge(a.state))},
    {title: 'Expires', cell: (a) => when(a.expires, a.expires_unix, '-')},
    {title: 'Delivered', cell: (a) => when(a.delivered, a.delivered_unix, '-')},
    {title: 'Finished', cell: (a) => when(a.finished, a.finished_unix, '-')},
    {title: 'Result', class: 'result', cell: (a) => a.result || ''},
    cancel && {title: '', cell: (a) => (a.state === 'pending' || a.state === 'delivered') ?
      el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger cancel-action', 'data-action-id': a.id,
                    on: {click: (e) => {
                      e.target.disabled = true;
                      cancel(a);
                    }}}, 'Cancel') : ''},
  ].filter(Boolean);
  return table(columns, items, {rowAttrs: (a) => ({'data-action-id': a.id, 'data-state': a.state}), class: 'actions'});
}

// The form queueing an action (admin only). With `device`, the target is
// that device; otherwise the administrator picks a device id or a group.
// onCreated(answer) after a 201.
export function actionForm(api, {device, onCreated}) {
  const kind = el('select', {class: 'form-select form-select-sm', id: 'action-kind', 'aria-label': 'Kind'},
    Object.entries(KINDS).map(([k, text]) => el('option', {value: k}, k + ': ' + text)));
  const expires = el('select', {class: 'form-select form-select-sm', id: 'action-expires', 'aria-label': 'Expires in'},
    Object.entries(EXPIRIES).map(([text, s]) => el('option', {value: s, selected: s === 86400}, 'expires in ' + text)));
  const targetKind = el('select', {class: 'form-select form-select-sm', id: 'action-target-kind',
                                   'aria-label': 'Target'},
    el('option', {value: 'device'}, 'device'), el('option', {value: 'group'}, 'group'));
  const target = el('input', {class: 'form-control form-control-sm', id: 'action-target', type: 'text',
                              placeholder: 'device id or group name', 'aria-label': 'Device id or group',
                              spellcheck: 'false', required: true});
  const message = el('div', {class: 'mt-2', id: 'action-message', role: 'status'});
  const submit = el('button', {type: 'submit', class: 'btn btn-sm btn-primary', id: 'action-create'}, 'Queue action');
  const form = el('form', {class: 'card card-body mb-3', id: 'action-form'},
    el('h2', {class: 'h6'}, device ? 'Queue an action for this device' : 'Queue an action'),
    el('div', {class: 'row g-2'},
      el('div', {class: 'col-md-3'}, kind),
      device ? null : el('div', {class: 'col-md-2'}, targetKind),
      device ? null : el('div', {class: 'col-md-3'}, target),
      el('div', {class: 'col-md-2'}, expires),
      el('div', {class: 'col-md-2'}, submit)),
    message);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = {kind: kind.value, expires_in: Number(expires.value)};
    if (device) body.device = device;
    else body[targetKind.value] = target.value.trim();
    submit.disabled = true;
    clear(message);
    try {
      const answer = await api.post('/actions', body);
      fill(message, el('div', {class: 'alert alert-success py-1 mb-0'},
        'Queued ' + answer.total + (answer.total === 1 ? ' action.' : ' actions.')));
      if (onCreated) onCreated(answer);
    } catch (err) {
      fill(message, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// Cancels `action`, then calls done(); failures are shown in `where`.
export async function cancelAction(api, action, where, done) {
  try {
    await api.post('/actions/' + encodeURIComponent(action.id) + '/cancel');
    done();
  } catch (e) {
    fill(where, errorBox(e));
  }
}

export function mount(view, ctx) {
  let generation = 0;
  let params = ctx.params;
  const stateSelect = el('select', {class: 'form-select form-select-sm w-auto', id: 'actions-state',
                                    'aria-label': 'State',
                                    on: {change: (e) => ctx.navigate('#/actions' +
                                      (e.target.value ? '?state=' + e.target.value : ''))}},
    el('option', {value: ''}, 'every state'), STATES.map((s) => el('option', {value: s}, s)));
  const problems = el('div');
  const list = el('div', {id: 'actions-list'}, loading());
  const load = async (c) => {
    params = c.params;
    const mine = ++generation;
    stateSelect.value = STATES.includes(params.get('state')) ? params.get('state') : '';
    try {
      const answer = await c.api.get('/actions', {state: stateSelect.value, limit: 500}, c.signal);
      if (mine !== generation) return;
      const cancel = c.role === 'admin' ?
        (a) => cancelAction(c.api, a, problems, () => load({...c, params})) : null;
      fill(list, actionsTable(answer.items, {cancel}),
        answer.truncated ? el('p', {class: 'text-muted small'}, 'The newest 500 are shown.') : null);
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(list, errorBox(e));
    }
  };
  fill(view, heading('Actions', stateSelect),
    ctx.role === 'admin' ? actionForm(ctx.api, {onCreated: () => load({...ctx, params})}) :
      el('p', {class: 'text-muted small', id: 'actions-read-only'},
        'This token may only read: queueing and cancelling actions needs an admin token.'),
    problems, list);
  load(ctx);
  return {update: load};
}
