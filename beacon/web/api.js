// The REST API (/api/v1, docs/api.md) as the dashboard uses it: the token
// goes in an Authorization header on every call (never in a URL, never in a
// cookie, so another site cannot make the browser send it), answers are JSON,
// and every refusal becomes an ApiError carrying the API's own code and
// message. A 401 from any call ends the session (onUnauthenticated).

export class ApiError extends Error {
  constructor(status, code, message, parameter) {
    super(message);
    this.status = status;      // HTTP status; 0 when the central was not reached
    this.code = code;          // the API's error code ("unauthenticated", ...)
    this.parameter = parameter || null;
  }
}

// A query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export class Api {
  // onUnauthenticated(message) is called once per 401, before the error is thrown.
  constructor(token, onUnauthenticated) {
    this.token = token;
    this.onUnauthenticated = onUnauthenticated;
  }

  get(path, params, signal) {
    return this.request('GET', path + query(params), undefined, signal);
  }

  post(path, body, signal) {
    return this.request('POST', path, body === undefined ? undefined : JSON.stringify(body), signal);
  }

  async request(method, path, body, signal) {
    const headers = {'Authorization': 'Bearer ' + this.token, 'Accept': 'application/json'};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch('/api/v1' + path, {method, headers, body, signal, cache: 'no-store',
                                           credentials: 'omit', redirect: 'error'});
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'cannot reach the central: ' + e.message);
    }
    const type = res.headers.get('Content-Type') || '';
    let data = null;
    if (type.startsWith('application/json')) {
      try {
        data = await res.json();
      } catch (e) {
        throw new ApiError(res.status, 'bad_answer', 'the central answered with broken JSON');
      }
    } else {
      // The server engine's own refusals are plain text ("error: ...").
      const text = (await res.text()).trim();
      if (res.ok) throw new ApiError(res.status, 'bad_answer', 'the central did not answer JSON');
      data = {error: {code: 'http_' + res.status, message: text.replace(/^error: /, '') || res.statusText}};
    }
    if (res.ok) return data;
    const e = (data && data.error) || {};
    const err = new ApiError(res.status, e.code || 'http_' + res.status, e.message || 'HTTP ' + res.status, e.parameter);
    if (res.status === 401 && this.onUnauthenticated) this.onUnauthenticated(err.message);
    throw err;
  }

  // The token's role ("read" or "admin"): GET /api/v1/token, which also
  // proves the token is live (401 otherwise).
  async role() {
    return (await this.get('/token')).role;
  }
}
