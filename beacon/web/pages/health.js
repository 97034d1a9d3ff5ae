// #/health?open=1|0: health messages of devices and beacons
// (GET /api/v1/health), open ones (the default) or every one, newest first.
import {el, errorBox, fill, heading, loaded, loading} from '../dom.js';
import {healthTable} from './device.js';

export function mount(view, ctx) {
  let generation = 0;
  const which = el('select', {class: 'form-select form-select-sm w-auto', id: 'health-open', 'aria-label': 'Which',
                              on: {change: (e) => ctx.navigate('#/health?open=' + e.target.value)}},
    el('option', {value: '1'}, 'open messages'), el('option', {value: '0'}, 'all messages'));
  const list = el('div', {id: 'health-list'}, loading());
  const load = async (c) => {
    const mine = ++generation;
    const open = c.params.get('open') !== '0';
    which.value = open ? '1' : '0';
    try {
      const answer = await c.api.get('/health', {open: open ? 1 : 0, limit: 1000}, c.signal);
      if (mine !== generation) return;
      fill(list, answer.items.length === 0 ?
        el('p', {class: 'text-muted', id: 'health-none'}, open ? 'No open health messages.' : 'No health messages.') :
        healthTable(answer.items, true),
        answer.truncated ? el('p', {class: 'text-muted small'}, 'The newest 1,000 are shown.') : null);
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(list, errorBox(e));
    }
  };
  fill(view, heading('Health messages', which), list);
  load(ctx);
  return {update: load};
}
