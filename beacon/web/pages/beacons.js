// #/beacons: every beacon (GET /api/v1/beacons): online or offline and why,
// version, role, last contact, spool depth and oldest entry, upstream,
// disk, certificate and open health messages.
import {ago, badge, bytes, count, el, errorBox, fill, heading, loaded, loading, statusBadge, table, when}
  from '../dom.js';

const COLUMNS = [
  {title: 'Beacon', cell: (b) => [el('strong', null, b.name), b.central ? [' ', badge('central', 'primary')] : null,
                                  b.revoked ? [' ', badge('revoked', 'danger')] : null]},
  {title: 'State', cell: (b) => [statusBadge(b.state), el('div', {class: 'small text-muted'}, b.why)]},
  {title: 'Last contact', cell: (b) => when(b.last_contact, b.last_contact_unix)},
  {title: 'Version', cell: (b) => b.version},
  {title: 'Spool', class: 'text-end', cell: (b) => [count(b.spool_files) + ' files',
                                                    el('div', {class: 'small text-muted'}, bytes(b.spool_bytes))]},
  {title: 'Oldest entry', cell: (b) => (b.spool_oldest_unix ?
    el('span', {title: b.spool_oldest}, ago(b.spool_oldest_unix).replace(/ ago$/, ' old')) : '-')},
  {title: 'Rejected', class: 'text-end', cell: (b) => count(b.rejected)},
  {title: 'Disk free', class: 'text-end', cell: (b) => bytes(b.disk_free)},
  {title: 'Upstream', cell: (b) => (b.central ? '-' : b.upstream_ok === null ? 'unknown' :
    [b.upstream_ok ? badge('reachable', 'success') : badge('unreachable', 'danger'),
     b.upstream_since_unix ? [' since ', when(b.upstream_since, b.upstream_since_unix)] : null])},
  {title: 'Certificate expires', cell: (b) => when(b.certificate_expires, b.certificate_expires_unix, '-')},
  {title: 'Health', cell: (b) => b.open_errors + ' errors, ' + b.open_warnings + ' warnings'},
];

export function mount(view, ctx) {
  const list = el('div', {id: 'beacons-list'}, loading());
  const load = async (c) => {
    try {
      const answer = await c.api.get('/beacons', null, c.signal);
      fill(list, answer.items.length === 0 ?
        el('p', {class: 'text-muted'}, 'No beacon has reported yet.') :
        table(COLUMNS, answer.items, {rowAttrs: (b) => ({'data-beacon': b.name}), class: 'beacons'}));
      loaded(view);
    } catch (e) {
      if (e.name !== 'AbortError') fill(list, errorBox(e));
    }
  };
  fill(view, heading('Beacons',
    el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', on: {click: () => load(ctx)}}, 'Refresh')),
    list);
  load(ctx);
  return {update: load};
}
