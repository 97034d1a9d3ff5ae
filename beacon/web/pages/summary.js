// #/summary[?range=24h]: the estate at a glance (GET /api/v1/summary): devices
// per status and condition, beacons, open health messages, pending actions,
// policy revisions, and two charts from the summary's history series:
// check-ins over time and devices per status over time.
import {asOf, count, el, errorBox, fill, heading, loaded, loading} from '../dom.js';

const STATUSES = ['active', 'pending', 'never-connected', 'disconnected'];
const STATUS_COLOURS = {
  'active': '#198754', 'pending': '#0dcaf0', 'never-connected': '#6c757d', 'disconnected': '#dc3545',
};
const RANGES = {'1h': 3600, '24h': 86400, '7d': 7 * 86400, '30d': 30 * 86400};
const MAX_BARS = 120;

// Chart.js (libjs-chart.js's UMD build, a classic script defining
// window.Chart), loaded the first time a summary is shown rather than with
// every page: it is the largest file the dashboard loads. Resolves to null
// when it cannot be loaded (the summary then says so instead of charts).
let chartScript = null;
function loadChart() {
  if (typeof window.Chart === 'function') return Promise.resolve(window.Chart);
  if (!chartScript) {
    chartScript = new Promise((resolve) => {
      const script = el('script', {src: '/lib/chart.js/chart.min.js'});
      script.addEventListener('load', () => resolve(window.Chart || null));
      script.addEventListener('error', () => {
        chartScript = null;
        script.remove();
        resolve(null);
      });
      document.head.append(script);
    });
  }
  return chartScript;
}

function card(title, value, name, href, kind) {
  const number = el('span', {class: 'count', 'data-count': name}, count(value));
  return el('div', {class: 'col'},
    el(href ? 'a' : 'div', {class: 'card h-100 text-decoration-none border-' + (kind || 'secondary'), href},
      el('div', {class: 'card-body py-2'}, el('div', {class: 'text-muted small'}, title), number)));
}

function timeLabel(unix, range) {
  const d = new Date(unix * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
  return range > 86400 ? (d.getMonth() + 1) + '/' + d.getDate() + ' ' + hm : hm;
}

// Check-ins per minute summed into at most MAX_BARS bars over the range.
function checkinBars(points, since, now) {
  const step = Math.max(60, Math.ceil((now - since) / MAX_BARS / 60) * 60);
  const start = Math.floor(since / step) * step;
  const bars = new Map();
  for (const [t, v] of points) {
    const b = start + Math.floor((t - start) / step) * step;
    bars.set(b, (bars.get(b) || 0) + v);
  }
  const out = [];
  for (let b = start; b <= now; b += step) out.push([b, bars.get(b) || 0]);
  return {step, bars: out};
}

function noHistory() {
  return el('p', {class: 'text-muted small'},
    'No history in this range yet: the central records a point every history_interval (5 min by default).');
}

function charts(summary, since, now, range) {
  const series = summary.history && summary.history.series ? summary.history.series : [];
  const made = [];
  const box = (title, id) => {
    const canvas = el('canvas', {id, role: 'img', 'aria-label': title});
    return {canvas, node: el('div', {class: 'col-lg-6'}, el('div', {class: 'card'}, el('div', {class: 'card-body'},
      el('h2', {class: 'h6'}, title), el('div', {class: 'chart'}, canvas))))};
  };
  const checkinBox = box('Check-ins', 'chart-checkins');
  const statusBox = box('Devices per status', 'chart-status');
  const row = el('div', {class: 'row g-3 mb-4'}, checkinBox.node, statusBox.node);
  if (typeof window.Chart !== 'function') {
    fill(row, el('p', {class: 'text-muted'},
      'Charts need Chart.js (the central serves it from the libjs-chart.js package, which is not installed).'));
    return {row, made};
  }
  const common = {animation: false, responsive: true, maintainAspectRatio: false,
                  plugins: {legend: {position: 'bottom'}}};
  const checkins = series.find((s) => s.name === 'checkins');
  if (checkins && checkins.points.length) {
    const {step, bars} = checkinBars(checkins.points, since, now);
    made.push(new window.Chart(checkinBox.canvas, {
      type: 'bar',
      data: {labels: bars.map(([t]) => timeLabel(t, range)),
             datasets: [{label: 'check-ins per ' + (step >= 3600 ? step / 3600 + ' h' : step / 60 + ' min'),
                         data: bars.map(([, v]) => v), backgroundColor: '#0d6efd'}]},
      options: {...common, scales: {y: {beginAtZero: true, ticks: {precision: 0}}}},
    }));
  } else {
    checkinBox.canvas.replaceWith(noHistory());
  }
  const statusSeries = STATUSES.map((s) => ({s, found: series.find((x) => x.name === 'status:' + s)}))
    .filter((x) => x.found && x.found.points.length);
  if (statusSeries.length) {
    made.push(new window.Chart(statusBox.canvas, {
      type: 'line',
      data: {datasets: statusSeries.map(({s, found}) => ({
        label: s, data: found.points.map(([t, v]) => ({x: t, y: v})), borderColor: STATUS_COLOURS[s],
        backgroundColor: STATUS_COLOURS[s], pointRadius: found.points.length > 50 ? 0 : 2, stepped: true}))},
      options: {...common, parsing: false,
                scales: {x: {type: 'linear', min: since, max: now, ticks: {callback: (v) => timeLabel(v, range)}},
                         y: {beginAtZero: true, ticks: {precision: 0}}}},
    }));
  } else {
    statusBox.canvas.replaceWith(noHistory());
  }
  return {row, made};
}

function render(view, summary, rangeName, refresh, navigate, since, now) {
  const d = summary.devices;
  const rangeSelect = el('select', {class: 'form-select form-select-sm w-auto', id: 'summary-range',
                                    'aria-label': 'History range',
                                    on: {change: (e) => navigate('#/summary?range=' + e.target.value)}},
    Object.keys(RANGES).map((r) => el('option', {value: r, selected: r === rangeName}, 'last ' + r)));
  const statusCards = el('div', {class: 'row row-cols-2 row-cols-md-3 row-cols-xl-5 g-3 mb-4', id: 'status-cards'},
    card('Devices', d.total, 'devices:total', '#/devices', 'primary'),
    STATUSES.map((s) => card(s, d.by_status[s] || 0, 'status:' + s, '#/devices?status=' + s,
                             {active: 'success', disconnected: 'danger', pending: 'info'}[s])));
  const conditions = el('div', {class: 'row row-cols-2 row-cols-md-3 row-cols-xl-5 g-3 mb-4', id: 'condition-cards'},
    Object.entries(d.by_condition).map(([c, n]) =>
      card(c, n, 'condition:' + c, '#/devices?condition=' + encodeURIComponent(c), n > 0 ? 'warning' : 'secondary')));
  const b = summary.beacons;
  const h = summary.health;
  const p = summary.policy;
  const other = el('div', {class: 'row row-cols-2 row-cols-md-3 row-cols-xl-6 g-3 mb-4', id: 'other-cards'},
    card('Beacons online', b.online, 'beacons:online', '#/beacons', 'success'),
    card('Beacons offline', b.offline, 'beacons:offline', '#/beacons', b.offline > 0 ? 'danger' : 'secondary'),
    card('Open health errors', h.open_errors, 'health:open_errors', '#/health?open=1',
         h.open_errors > 0 ? 'danger' : 'secondary'),
    card('Open health warnings', h.open_warnings, 'health:open_warnings', '#/health?open=1',
         h.open_warnings > 0 ? 'warning' : 'secondary'),
    card('Pending actions', summary.actions.pending, 'actions:pending', '#/actions?state=pending', 'info'),
    card('Policy revision served', p.served_revision, 'policy:served_revision', null,
         p.served_revision === p.published_revision ? 'secondary' : 'warning'));
  const {row, made} = charts(summary, since, now, RANGES[rangeName]);
  fill(view, 
    heading('Estate', asOf(summary), rangeSelect,
            el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', id: 'refresh',
                          on: {click: refresh}}, 'Refresh')),
    el('h2', {class: 'h6 text-muted'}, 'Devices by status'), statusCards,
    el('h2', {class: 'h6 text-muted'}, 'Devices by condition'), conditions,
    el('h2', {class: 'h6 text-muted'}, 'Beacons, health, actions, policy'), other,
    row);
  loaded(view);
  return made;
}

export function mount(view, ctx) {
  let charts = [];
  let generation = 0;
  const destroyCharts = () => {
    for (const c of charts) c.destroy();
    charts = [];
  };
  const load = async (c) => {
    const mine = ++generation;
    const rangeName = RANGES[c.params.get('range')] ? c.params.get('range') : '24h';
    const now = Math.floor(Date.now() / 1000);
    const since = now - RANGES[rangeName];
    if (!view.firstChild || view.querySelector('.loading')) fill(view, loading());
    try {
      const [summary] = await Promise.all([c.api.get('/summary', {since}, c.signal), loadChart()]);
      if (mine !== generation) return;
      destroyCharts();
      charts = render(view, summary, rangeName, () => load(c), c.navigate, since, now);
    } catch (e) {
      if (e.name !== 'AbortError' && mine === generation) fill(view, errorBox(e));
    }
  };
  load(ctx);
  return {update: load, destroy: destroyCharts};
}
