// The device page's Hardware tab: the summary from the device resource
// (GET /api/v1/devices/{id}: vendor, model, CPU, memory, disks, interfaces)
// and every detailed section of its inventory (GET .../sections), one
// collapsible table each, with the fields that change on their own marked.
import {add, badge, bytes, count, el, errorBox, facts, fill, loading, table} from '../dom.js';

// "AMD EPYC, 2 logical processors, 23.5 GiB": the overview's one line.
export function hardwareLine(hw) {
  if (!hw) return null;
  return [hw.cpu_model || 'unknown CPU', ', ', count(hw.cpu_cores), ' logical processors, ', bytes(hw.memory_bytes)];
}

function summary(hw) {
  if (!hw) return [el('p', {class: 'text-muted'}, 'No inventory yet.')];
  return [
    el('div', {class: 'row'}, el('div', {class: 'col-lg-6'}, facts([
      ['Vendor', hw.vendor],
      ['Model', hw.model],
      ['Serial number', hw.serial ? el('span', {class: 'mono'}, hw.serial) : el('span', {class: 'text-muted'},
        'not reported (reading the DMI serial needs root or CAP_DAC_READ_SEARCH)')],
      ['Processor', el('span', {id: 'hw-cpu'}, hw.cpu_model)],
      ['Logical processors', el('span', {id: 'hw-cores'}, String(hw.cpu_cores))],
      ['Memory', el('span', {id: 'hw-memory', 'data-bytes': String(hw.memory_bytes)}, bytes(hw.memory_bytes))],
    ]))),
    el('h2', {class: 'h6'}, 'Disks'),
    hw.disks.length === 0 ? el('p', {class: 'text-muted'}, 'None reported.') : table([
      {title: 'Disk', class: 'mono', cell: (d) => d.name},
      {title: 'Model', cell: (d) => d.model},
      {title: 'Size', class: 'text-end', cell: (d) => bytes(d.size_bytes)},
    ], hw.disks, {class: 'disks'}),
    el('h2', {class: 'h6'}, 'Network interfaces'),
    hw.interfaces.length === 0 ? el('p', {class: 'text-muted'}, 'None reported.') : table([
      {title: 'Interface', class: 'mono', cell: (n) => [n.name, n.virtual ? [' ', badge('virtual', 'light')] : null]},
      {title: 'MAC', class: 'mono', cell: (n) => n.mac},
      {title: 'Addresses', class: 'mono', cell: (n) => n.addresses.join(', ')},
    ], hw.interfaces, {class: 'interfaces'}),
  ];
}

// One section: a table whose columns are the fields its items have, in the
// order they first appear; a field that changes on its own is marked "~".
function section(s) {
  const names = [];
  const volatile = new Set();
  for (const item of s.items) {
    for (const name of Object.keys(item.fields)) if (!names.includes(name)) names.push(name);
    for (const name of item.volatile_fields) volatile.add(name);
  }
  const title = [el('span', {class: 'mono'}, s.name), ' ', el('small', {class: 'text-muted'},
    count(s.items.length) + (s.items.length === 1 ? ' item' : ' items')),
    s.volatile ? [' ', badge('changes on its own', 'light')] : null];
  return el('details', {class: 'mb-2 section', 'data-section': s.name},
    el('summary', null, title),
    s.notes.map((n) => el('p', {class: 'text-muted small mb-1 note'}, n)),
    s.items.length === 0 ? el('p', {class: 'text-muted small'}, 'No items.') : table([
      {title: 'Key', class: 'mono', cell: (i) => i.key},
      ...names.map((name) => ({
        title: volatile.has(name) ? name + ' ~' : name,
        cell: (i) => i.fields[name] === undefined ? '' : i.fields[name],
      })),
    ], s.items, {class: 'section-items'}));
}

export function hardware(api, d, box, signal) {
  add(box, summary(d.hardware));
  const details = el('div', {id: 'sections'}, loading());
  add(box, el('h2', {class: 'h6 mt-3'}, 'Inventory sections'),
    el('p', {class: 'text-muted small'}, 'Everything the client collected, as last reported. Fields marked ~ change ' +
      'without a change to the machine and stay out of the time line.'), details);
  api.get('/devices/' + encodeURIComponent(d.device_id) + '/sections', null, signal).then((answer) => {
    fill(details, answer.items.length === 0 ? el('p', {class: 'text-muted'}, 'No sections reported.') :
      answer.items.map(section));
  }).catch((e) => e.name !== 'AbortError' && fill(details, errorBox(e)));
}
