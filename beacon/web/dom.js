// Building the page from data. Everything devices report is untrusted: it
// reaches the page only as text nodes and attribute values set through DOM
// APIs, never as markup. This module is the only place that creates elements;
// nothing in the dashboard uses innerHTML, outerHTML, insertAdjacentHTML or
// document.write (tests/dashboard checks it).

// el('a', {href: '#/devices', class: 'x'}, 'text', child, [more], null)
// Attributes are set with setAttribute (names are ours, values any text);
// `on` holds event listeners; children are nodes, strings (as text), arrays
// or null/undefined/false (skipped). An href must be one of ours: a route
// ('#/...') or a path on this server ('/...'); anything else (javascript:,
// another origin) throws.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'on') {
      for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    } else if (name === 'href' && !/^(#\/|\/(?!\/))/.test(String(value))) {
      throw new Error('refusing a link outside the dashboard: ' + value);
    } else {
      node.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

// Replaces node's children / adds children, as el() takes them (null skipped,
// arrays flattened, strings as text). The DOM's own replaceChildren and
// append would turn null into the text "null" and an array into a string.
export function fill(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function add(node, ...children) {
  return append(node, children);
}

// A table: columns are {title, cell: row => node|text, class?, sort?: key}
// (sort: the header becomes a button calling onSort(key)).
export function table(columns, rows, opts = {}) {
  const head = el('tr', null, columns.map((c) => {
    if (!c.sort || !opts.onSort) return el('th', {scope: 'col', class: c.class}, c.title);
    const active = opts.sort === c.sort || opts.sort === '-' + c.sort;
    const descending = opts.sort === '-' + c.sort;
    return el('th', {scope: 'col', class: c.class, 'aria-sort': active ? (descending ? 'descending' : 'ascending') : 'none'},
      el('button', {type: 'button', class: 'btn btn-link btn-sm p-0 sort', 'data-sort': c.sort,
                    on: {click: () => opts.onSort(active && !descending ? '-' + c.sort : c.sort)}},
        c.title, active ? (descending ? ' \u25bc' : ' \u25b2') : ''));
  }));
  const body = el('tbody', null, rows.map((r) => el('tr', opts.rowAttrs ? opts.rowAttrs(r) : null,
    columns.map((c) => el('td', {class: c.class}, c.cell(r))))));
  return el('div', {class: 'table-responsive'},
    el('table', {class: 'table table-sm table-hover align-middle ' + (opts.class || '')},
      el('thead', null, head), body));
}

// A definition list from [label, value] pairs (value: node or text; null is "-").
export function facts(pairs) {
  return el('dl', {class: 'row facts'}, pairs.map(([label, value]) => [
    el('dt', {class: 'col-sm-5 col-xl-4'}, label),
    el('dd', {class: 'col-sm-7 col-xl-8'}, value === null || value === undefined || value === '' ? '-' : value),
  ]));
}

export function badge(text, kind) {
  return el('span', {class: 'badge text-bg-' + kind}, text);
}

const STATUS_COLOURS = {
  'active': 'success', 'pending': 'info', 'never-connected': 'secondary', 'disconnected': 'danger',
  'online': 'success', 'offline': 'danger',
  'delivered': 'info', 'done': 'success', 'failed': 'danger', 'expired': 'secondary', 'cancelled': 'secondary',
  'error': 'danger', 'warning': 'warning',
};

// A status, state or message type as a coloured badge.
export function statusBadge(name) {
  return badge(name, STATUS_COLOURS[name] || 'light');
}

export function deviceLink(id, label) {
  return el('a', {href: '#/device/' + encodeURIComponent(id)}, label || id);
}

// A time from the API's pair (RFC 3339 text, unix seconds): "5 min ago",
// with the exact UTC time as a tooltip. null: "never" (or `none`).
export function when(text, unix, none = 'never') {
  if (unix === null || unix === undefined) return el('span', {class: 'text-muted'}, none);
  return el('time', {datetime: text, title: text}, ago(unix));
}

export function ago(unix) {
  const s = Math.round(Date.now() / 1000 - unix);
  if (s < 0) return 'in ' + duration(-s);
  if (s < 5) return 'just now';
  return duration(s) + ' ago';
}

export function duration(seconds) {
  const s = Math.round(seconds);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.round(s / 60) + ' min';
  if (s < 86400 * 2) return (s / 3600).toFixed(s < 36000 ? 1 : 0) + ' h';
  return Math.round(s / 86400) + ' d';
}

export function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return (u === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[u];
}

export function count(n) {
  return Number(n).toLocaleString('en');
}

// A message for failures, with the API's own words.
export function errorBox(err) {
  return el('div', {class: 'alert alert-danger', role: 'alert'}, err && err.message ? err.message : String(err));
}

// Marks `view` (a page, app.js) as showing its data: data-loaded for tests,
// and once per page a performance mark "dashboard:loaded:PAGE", which the
// benchmark reads (bench/dashboard/) as the time from navigation to a page
// with its data.
export function loaded(view) {
  if (!view.dataset.loaded) performance.mark('dashboard:loaded:' + view.dataset.page);
  view.dataset.loaded = String(Date.now());
}

export function loading() {
  return el('p', {class: 'text-muted loading'}, 'Loading\u2026');
}

export function heading(title, ...extra) {
  return el('div', {class: 'd-flex flex-wrap align-items-baseline gap-3 mb-3'}, el('h1', {class: 'h3 mb-0'}, title), extra);
}

// "figures as of 12:00:05 (2 s old)" for answers from the estate view.
export function asOf(answer) {
  if (!answer || answer.as_of_unix === undefined) return null;
  return el('small', {class: 'text-muted as-of'}, 'as of ', when(answer.as_of, answer.as_of_unix));
}
