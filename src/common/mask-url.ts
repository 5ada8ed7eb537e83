/**
 * Credential masking for anything that leaves the process: logs, API answers, metrics labels,
 * error messages. A camera URL such as `rtsp://admin:hunter2@10.0.0.5/live` becomes
 * `rtsp://admin:***@10.0.0.5/live`.
 */

/** Query parameters whose values are secrets in common camera and CDN URLs. */
const SECRET_PARAMS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'token',
  'access_token',
  'auth',
  'key',
  'apikey',
  'api_key',
  'secret',
  'signature',
  'sig',
]);

/** Scheme, then the authority's user info up to its last `@`. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*(?:@[^\s/?#@]*)*)@/gi;

/** `name=value` pairs inside a query string. */
const QUERY_PAIR = /([?&;])([^=&#\s]+)=([^&#\s]*)/g;

/**
 * Masks the credentials in one URL, or in every URL inside a longer text (an ffmpeg log line,
 * an error message). The user name stays, so people can tell which account was used; the
 * password and secret-looking query parameters become `***`. A user info without a password is
 * masked whole, because it is often a token. Text without credentials comes back unchanged.
 */
export function maskUrl(text: string): string {
  return text.replace(USERINFO, maskUserInfo).replace(QUERY_PAIR, maskQueryPair);
}

function maskUserInfo(_match: string, scheme: string, userInfo: string): string {
  const colon = userInfo.indexOf(':');
  if (colon < 0) return `${scheme}***@`;
  return `${scheme}${userInfo.slice(0, colon)}:***@`;
}

function maskQueryPair(match: string, sep: string, name: string, value: string): string {
  if (value === '' || !SECRET_PARAMS.has(name.toLowerCase())) return match;
  return `${sep}${name}=***`;
}
