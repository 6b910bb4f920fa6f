/**
 * Key Vault references in the configuration. Any variable's value may be `kv://<secret-name>`: the secret
 * of that name in the vault at TASKFLEET_KEY_VAULT_URL, read once at start-up with the process's Azure
 * credential. A reference that cannot be resolved stops the process with a message naming the variable
 * and the secret; no message ever holds a secret's value.
 */
import { ConfigError } from '../domain/errors';

/** The part of @azure/keyvault-secrets' SecretClient used here (the real client implements it). */
export interface SecretReader {
  getSecret(name: string): Promise<{ value?: string | undefined }>;
}

export const KV_PREFIX = 'kv://';
/** Key Vault secret names: 1 to 127 letters, digits and dashes. */
const SECRET_NAME = /^[A-Za-z0-9-]{1,127}$/;

/** Variables needed to reach the vault: they cannot come from it. */
export const VAULT_VARIABLES: readonly string[] = ['TASKFLEET_KEY_VAULT_URL', 'TASKFLEET_AZURE_CLIENT_ID'];

export interface SecretReference {
  variable: string;
  secret: string;
}

/** The references among `variables` in `env`; a malformed one is a ConfigError naming its variable. */
export function findReferences(env: NodeJS.ProcessEnv, variables: readonly string[]): SecretReference[] {
  const refs: SecretReference[] = [];
  const problems: string[] = [];
  for (const variable of variables) {
    const value = env[variable];
    if (value === undefined || !value.startsWith(KV_PREFIX)) continue;
    const secret = value.slice(KV_PREFIX.length);
    if (VAULT_VARIABLES.includes(variable)) {
      problems.push(`  ${variable}: cannot be a Key Vault reference (it is needed to reach the vault)`);
    } else if (!SECRET_NAME.test(secret)) {
      problems.push(
        `  ${variable}: "${value}" is not a Key Vault reference: kv:// then a secret name of 1 to 127 letters, digits and dashes`,
      );
    } else {
      refs.push({ variable, secret });
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return refs;
}

function isHttpsUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'https:' && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Why a read failed, in words that never include a value: the SDK's code and HTTP status, or the error's name. */
function reason(err: unknown): string {
  const e = err as { code?: unknown; statusCode?: unknown; name?: unknown; message?: unknown };
  const parts = [e.code, e.statusCode].filter((p) => typeof p === 'string' || typeof p === 'number').map(String);
  if (parts.length > 0) return parts.join(' ');
  const firstLine = typeof e.message === 'string' ? e.message.split('\n')[0] : '';
  return [typeof e.name === 'string' ? e.name : 'Error', firstLine].filter(Boolean).join(': ');
}

/**
 * Resolves every reference through `reader` (each secret read once, all at once) and returns `env` with the
 * values in place. Every failure is reported together: variable, secret, vault and reason.
 */
export async function resolveReferences(
  env: NodeJS.ProcessEnv,
  refs: readonly SecretReference[],
  vault: { url: string | undefined; reader: (url: string) => SecretReader },
): Promise<NodeJS.ProcessEnv> {
  if (refs.length === 0) return env;
  if (vault.url === undefined || vault.url === '') {
    const lines = refs.map(
      (r) => `  ${r.variable}: is a Key Vault reference (kv://${r.secret}) but TASKFLEET_KEY_VAULT_URL is not set`,
    );
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const url = vault.url;
  if (!isHttpsUrl(url)) {
    throw new ConfigError('invalid configuration:\n  TASKFLEET_KEY_VAULT_URL: must be an https:// URL naming a vault');
  }
  const reader = vault.reader(url);
  const names = [...new Set(refs.map((r) => r.secret))];
  const read = await Promise.all(
    names.map(async (name) => {
      try {
        const secret = await reader.getSecret(name);
        if (typeof secret.value !== 'string' || secret.value === '') {
          return [name, { error: 'the secret has no value' }] as const;
        }
        return [name, { value: secret.value }] as const;
      } catch (err) {
        return [name, { error: reason(err) }] as const;
      }
    }),
  );
  const byName = new Map<string, { value?: string; error?: string }>(read);
  const out: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const r of refs) {
    const got = byName.get(r.secret);
    if (got?.value !== undefined) out[r.variable] = got.value;
    else problems.push(`  ${r.variable}: Key Vault secret "${r.secret}" could not be read from ${url}: ${got?.error}`);
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return out;
}
