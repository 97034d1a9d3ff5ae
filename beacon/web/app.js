// The dashboard's entry point: the session (an API token in sessionStorage),
// the login form, and client-side routing on the URL's hash
// ("#/devices?q=web"). Pages live in pages/; each exports
//   mount(view, ctx)   builds the page into `view` (a fresh element) and
//                      returns an object with optional update(ctx), for a
//                      new hash on the same page (the page keeps its form and
//                      focus), and destroy(), called when the page is left.
// ctx: {api, role, route, segments, params (URLSearchParams), navigate, signal}.
import {Api} from './api.js';
import {el, errorBox, loading} from './dom.js';
import * as summary from './pages/summary.js';
import * as devices from './pages/devices.js';
import * as device from './pages/device.js';
import * as software from './pages/software.js';
import * as beacons from './pages/beacons.js';
import * as health from './pages/health.js';
import * as actions from './pages/actions.js';

const PAGES = {summary, devices, device, software, beacons, health, actions};
const TOKEN_KEY = 'beacon.token';
const ROLE_KEY = 'beacon.role';

const $ = (id) => document.getElementById(id);

let api = null;
let role = null;
let current = null;  // {route, page, view, controller}
let shownHash = null;

function readSession() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const r = sessionStorage.getItem(ROLE_KEY);
  if (!token || (r !== 'read' && r !== 'admin')) return false;
  api = new Api(token, (message) => endSession('The central refused the token: ' + message.split(';')[0] + '.'));
  role = r;
  return true;
}

function leavePage() {
  if (!current) return;
  current.controller.abort();
  if (current.page && current.page.destroy) current.page.destroy();
  current = null;
}

// Back to the login form, forgetting the token (log-out, or a 401).
function endSession(message, kind = 'danger') {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROLE_KEY);
  api = null;
  role = null;
  leavePage();
  shownHash = null;
  $('main').replaceChildren();
  $('main').hidden = true;
  $('nav').hidden = true;
  $('login').hidden = false;
  const error = $('login-error');
  error.textContent = message || '';
  error.className = 'alert mt-3 alert-' + kind;
  error.hidden = !message;
  $('token').value = '';
  $('token').focus();
}

async function logIn(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  const error = $('login-error');
  const submit = $('login-submit');
  error.hidden = true;
  error.className = 'alert mt-3 alert-danger';
  if (!token) {
    error.textContent = 'Paste an API token.';
    error.hidden = false;
    return;
  }
  submit.disabled = true;
  try {
    // Checked before it is kept: a refused token never enters the session.
    const candidate = new Api(token, null);
    const r = await candidate.role();
    sessionStorage.setItem(TOKEN_KEY, token);
    sessionStorage.setItem(ROLE_KEY, r);
    $('token').value = '';
    readSession();
    showApp();
  } catch (e) {
    // (The API's advice after ';' is for scripts: the form says it above.)
    error.textContent = e.status === 401 ? 'The central refused this token: ' + e.message.split(';')[0] + '.' :
      e.message;
    error.hidden = false;
  } finally {
    submit.disabled = false;
  }
}

function showApp() {
  $('login').hidden = true;
  $('nav').hidden = false;
  $('main').hidden = false;
  $('role').replaceChildren('Role: ', el('strong', {id: 'role-name'}, role));
  route();
}

function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const mark = hash.indexOf('?');
  const path = mark < 0 ? hash : hash.slice(0, mark);
  const params = new URLSearchParams(mark < 0 ? '' : hash.slice(mark + 1));
  const segments = path.split('/').filter((s) => s !== '').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return s;
    }
  });
  const name = segments.length && PAGES[segments[0]] ? segments[0] : 'summary';
  return {name, segments: segments.slice(1), params};
}

// Goes to `hash` ("#/devices?q=x"). replace: no new history entry (typing).
function navigate(hash, {replace = false} = {}) {
  if (hash === location.hash) return route();
  if (replace) history.replaceState(null, '', hash);
  else history.pushState(null, '', hash);
  route();
}

function route() {
  if (!api) return;
  if (location.hash === shownHash) return;
  shownHash = location.hash;
  const {name, segments, params} = parseHash();
  for (const a of document.querySelectorAll('#nav [data-route]')) {
    const on = a.dataset.route === name || (name === 'device' && a.dataset.route === 'devices');
    a.classList.toggle('active', on);
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const base = {api, role, route: name, segments, params, navigate};
  // The same page (and the same device): let it update in place.
  if (current && current.route === name && current.page && current.page.update &&
      (name !== 'device' || current.key === segments[0])) {
    current.page.update({...base, signal: current.controller.signal});
    return;
  }
  leavePage();
  const controller = new AbortController();
  const view = el('div', {class: 'page', 'data-page': name}, loading());
  $('main').replaceChildren(view);
  current = {route: name, key: segments[0], view, controller, page: null};
  const mine = current;
  document.title = 'beacon: ' + name;
  try {
    mine.page = PAGES[name].mount(view, {...base, signal: controller.signal}) || {};
  } catch (e) {
    view.replaceChildren(errorBox(e));
  }
}

function start() {
  $('login-form').addEventListener('submit', logIn);
  $('logout').addEventListener('click', () => endSession('Logged out.', 'info'));
  window.addEventListener('hashchange', route);
  window.addEventListener('popstate', route);
  if (readSession()) showApp();
  else endSession('');
}

start();
