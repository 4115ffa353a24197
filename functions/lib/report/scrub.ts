/* ---------------------------------------------------------------------------------------------- */
/* Secret material never reaches a report                                                          */
/* ---------------------------------------------------------------------------------------------- */

/** Field names that could carry secret material (compared without case, `-` or `_`). */
export function isSensitiveKey(key: string): boolean {
  const k = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return (
    k.includes('password') ||
    k.includes('passwd') ||
    k.includes('passphrase') ||
    k === 'pwd' ||
    k.includes('secretvalue') ||
    k.includes('secretstring') ||
    k.includes('secretbinary') ||
    k.includes('privatekey') ||
    k === 'credentials'
  );
}

/** A copy without any field named like secret material, at any depth. Strings are scrubbed too. */
export function scrubSecrets(value: unknown): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (Array.isArray(value)) return value.map(scrubSecrets);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (!isSensitiveKey(key)) out[key] = scrubSecrets(inner);
    }
    return out;
  }
  return value;
}

// `password=...`, `"password": "..."`, `PASSWORD: ...` inside a message (e.g. a serialized secret in an error).
const SECRET_ASSIGNMENT =
  /(["']?\b(?:password|passwd|pwd|secret_?value|secret_?string)\b["']?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}]+)/gi;

export function scrubText(text: string): string {
  return text.replace(SECRET_ASSIGNMENT, '$1[redacted]');
}
