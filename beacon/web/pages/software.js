// #/software?name=GLOB&below=&at_least=: which devices have a package
// (GET /api/v1/software): a name glob (* and ?, case ignored), optionally
// only versions below one and/or at least one (Debian version order), and
// the devices, linking to their pages.
import {clear, count, deviceLink, el, errorBox, fill, heading, loaded, loading, table} from '../dom.js';

export function mount(view, ctx) {
  let generation = 0;
  const input = (id, label, placeholder, extra) => el('input', {class: 'form-control form-control-sm', id, type: 'search',
    'aria-label': label, placeholder, spellcheck: 'false', ...extra});
  const name = input('software-name', 'Package name glob', 'Package: openssl*, lib?ssl3', {required: true});
  const below = input('software-below', 'Version below', 'version below (e.g. 3.0.11)');
  const atLeast = input('software-at-least', 'Version at least', 'version at least');
  const results = el('div', {id: 'software-results'});
  const form = el('form', {class: 'row g-2 mb-3', role: 'search', id: 'software-form'},
    el('div', {class: 'col-md-4'}, name), el('div', {class: 'col-md-3'}, atLeast),
    el('div', {class: 'col-md-3'}, below),
    el('div', {class: 'col-md-2'}, el('button', {class: 'btn btn-sm btn-primary', type: 'submit'}, 'Search')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    for (const [k, box] of [['name', name], ['at_least', atLeast], ['below', below]]) {
      if (box.value.trim()) p.set(k, box.value.trim());
    }
    ctx.navigate('#/software?' + p.toString());
  });
  fill(view, heading('Software'),
    el('p', {class: 'text-muted small'},
      'Which devices have a package. * matches any run of characters and ? one; versions compare as dpkg does.'),
    form, results);

  const load = async (c) => {
    const mine = ++generation;
    name.value = c.params.get('name') || '';
    below.value = c.params.get('below') || '';
    atLeast.value = c.params.get('at_least') || '';
    if (!name.value) {
      clear(results);
      loaded(view);
      return;
    }
    fill(results, loading());
    try {
      const answer = await c.api.get('/software', {name: name.value, below: below.value, at_least: atLeast.value,
                                                   limit: 1000}, c.signal);
      if (mine !== generation) return;
      const devices = new Set(answer.items.map((r) => r.device_id));
      fill(results, 
        el('p', {id: 'software-total'}, count(answer.total) + (answer.total === 1 ? ' match' : ' matches') +
           (answer.truncated ? ' (the first ' + count(answer.items.length) + ' shown)' : '') +
           ' on ' + count(devices.size) + (devices.size === 1 ? ' device' : ' devices')),
        answer.items.length === 0 ? null : table([
          {title: 'Host name', cell: (r) => deviceLink(r.device_id, r.hostname || r.device_id)},
          {title: 'Package', cell: (r) => r.name},
          {title: 'Version', class: 'mono', cell: (r) => r.version},
          {title: 'Architecture', cell: (r) => r.arch},
          {title: 'Device id', class: 'mono small', cell: (r) => r.device_id},
        ], answer.items, {rowAttrs: (r) => ({'data-device-id': r.device_id}), class: 'software-matches'}));
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(results, errorBox(e));
    }
  };
  load(ctx);
  return {update: load};
}
