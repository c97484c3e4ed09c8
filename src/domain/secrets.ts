/**
 * The project's one redaction of secrets in text: a URL's password (the `user:password@` form and a
 * `password=` parameter), and any other secret (an API key) named by the caller. Every place that
 * prints or logs a database URL or an error that may quote one goes through here.
 */

const USERINFO_PASSWORD = /\/\/([^:/@]*):([^@/]*)@/;
const PASSWORD_PARAM = /([?&]password=)([^&#]*)/gi;

/** The URL with its password replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(USERINFO_PASSWORD, '//$1:***@').replace(PASSWORD_PARAM, '$1***');
}

/** The passwords a URL carries, as written and percent-decoded. */
export function urlSecrets(url: string): string[] {
  const found = [USERINFO_PASSWORD.exec(url)?.[2], ...[...url.matchAll(PASSWORD_PARAM)].map((m) => m[2])];
  return found.filter((s): s is string => !!s).flatMap((s) => [s, safeDecode(s)]);
}

/** The message with the URL redacted and each secret (and the URL's passwords) replaced by `***`. */
export function scrubSecrets(message: string, secrets: readonly string[], url?: string): string {
  let out = url ? message.split(url).join(redactUrl(url)) : message;
  const all = [...secrets, ...(url ? urlSecrets(url) : [])].filter((s) => s.length > 0);
  // Longest first, so a secret containing another is replaced whole.
  for (const secret of [...new Set(all)].sort((a, b) => b.length - a.length)) out = out.split(secret).join('***');
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
