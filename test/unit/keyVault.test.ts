/**
 * Key Vault references (kv://<secret-name>) in the configuration, resolved through the SecretReader interface
 * that @azure/keyvault-secrets' SecretClient implements. A test double stands in for the vault: no Azure
 * endpoint exists here.
 */
import type { SecretClient } from '@azure/keyvault-secrets';
import { findReferences, resolveReferences, type SecretReader } from '../../src/config/keyVault';
import { resolveConfig } from '../../src/config/resolve';
import { ConfigError } from '../../src/domain/errors';

// The real client must satisfy the interface the resolver uses (checked by the compiler).
const _realClientFits: (c: SecretClient) => SecretReader = (c) => c;

const VAULT = 'https://tf-vault.vault.azure.net';
const ADMIN_KEY = 'tfk_' + 'A'.repeat(43);

/** A vault of `secrets`; records every read; answers 404 like the SDK for a missing one. */
function fakeVault(secrets: Record<string, string | undefined>) {
  const reads: string[] = [];
  const urls: string[] = [];
  const clientIds: Array<string | null> = [];
  const reader = (url: string, clientId: string | null): SecretReader => {
    urls.push(url);
    clientIds.push(clientId);
    return {
      async getSecret(name: string) {
        reads.push(name);
        if (!(name in secrets)) {
          throw Object.assign(new Error(`A secret with (name/id) ${name} was not found in this key vault.`), {
            name: 'RestError',
            code: 'SecretNotFound',
            statusCode: 404,
          });
        }
        return { value: secrets[name] };
      },
    };
  };
  return { reader, reads, urls, clientIds };
}

async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => new Error('expected a ConfigError'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('resolveConfig with Key Vault references', () => {
  it('resolves every kv:// value once, before validation, with the vault URL and client id given', async () => {
    const vault = fakeVault({ 'sql-password': 'pw-from-vault', 'admin-key': ADMIN_KEY });
    const clientId = '11111111-2222-3333-4444-555555555555';
    const config = await resolveConfig(
      {
        TASKFLEET_STORE: 'mssql',
        TASKFLEET_MSSQL_SERVER: 'db.example.net',
        TASKFLEET_MSSQL_DATABASE: 'tf',
        TASKFLEET_MSSQL_USER: 'tf_supervisor',
        TASKFLEET_MSSQL_PASSWORD: 'kv://sql-password',
        TASKFLEET_ADMIN_API_KEY: 'kv://admin-key',
        TASKFLEET_KEY_VAULT_URL: VAULT,
        TASKFLEET_AZURE_CLIENT_ID: clientId,
      },
      { secretReader: vault.reader },
    );
    expect(config.mssql.password).toBe('pw-from-vault');
    expect(config.adminApiKey).toBe(ADMIN_KEY);
    expect(config.azure).toEqual({ clientId, keyVaultUrl: VAULT });
    expect(vault.reads.sort()).toEqual(['admin-key', 'sql-password']);
    expect(vault.urls).toEqual([VAULT]);
    expect(vault.clientIds).toEqual([clientId]);
  });

  it('reads a secret referenced twice only once', async () => {
    const vault = fakeVault({ shared: ADMIN_KEY });
    const config = await resolveConfig(
      { TASKFLEET_ADMIN_API_KEY: 'kv://shared', TASKFLEET_API_KEY: 'kv://shared', TASKFLEET_KEY_VAULT_URL: VAULT },
      { secretReader: vault.reader },
    );
    expect([config.adminApiKey, config.apiKey]).toEqual([ADMIN_KEY, ADMIN_KEY]);
    expect(vault.reads).toEqual(['shared']);
  });

  it('makes no client at all when nothing is a reference', async () => {
    const vault = fakeVault({});
    await resolveConfig({ TASKFLEET_PORT: '9000', TASKFLEET_KEY_VAULT_URL: VAULT }, { secretReader: vault.reader });
    expect(vault.urls).toEqual([]);
  });

  it('stops with the variable and the secret named when a secret cannot be read, never a value', async () => {
    const vault = fakeVault({ 'admin-key': ADMIN_KEY, empty: '' });
    const err = await configError(
      resolveConfig(
        {
          TASKFLEET_ADMIN_API_KEY: 'kv://admin-key',
          TASKFLEET_MSSQL_PASSWORD: 'kv://missing-secret',
          TASKFLEET_API_KEY: 'kv://empty',
          TASKFLEET_KEY_VAULT_URL: VAULT,
        },
        { secretReader: vault.reader },
      ),
    );
    expect(err.message).toContain(
      `TASKFLEET_MSSQL_PASSWORD: Key Vault secret "missing-secret" could not be read from ${VAULT}: SecretNotFound 404`,
    );
    expect(err.message).toContain('TASKFLEET_API_KEY: Key Vault secret "empty" could not be read');
    expect(err.message).not.toContain(ADMIN_KEY);
  });

  it('reports a vault that refuses the identity with the error name when the SDK gives no code', async () => {
    const reader = (): SecretReader => ({
      getSecret: async () => {
        throw Object.assign(new Error('EnvironmentCredential authentication unavailable.\nmore'), {
          name: 'CredentialUnavailableError',
        });
      },
    });
    const err = await configError(
      resolveConfig({ TASKFLEET_API_KEY: 'kv://k', TASKFLEET_KEY_VAULT_URL: VAULT }, { secretReader: reader }),
    );
    expect(err.message).toMatch(
      /TASKFLEET_API_KEY: Key Vault secret "k" could not be read from .*: CredentialUnavailableError: EnvironmentCredential authentication unavailable\.$/,
    );
  });

  it('needs TASKFLEET_KEY_VAULT_URL, an https URL, to resolve anything', async () => {
    const vault = fakeVault({ k: 'v' });
    const missing = await configError(resolveConfig({ TASKFLEET_API_KEY: 'kv://k' }, { secretReader: vault.reader }));
    expect(missing.message).toContain(
      'TASKFLEET_API_KEY: is a Key Vault reference (kv://k) but TASKFLEET_KEY_VAULT_URL is not set',
    );
    const plain = await configError(
      resolveConfig(
        { TASKFLEET_API_KEY: 'kv://k', TASKFLEET_KEY_VAULT_URL: 'http://v' },
        { secretReader: vault.reader },
      ),
    );
    expect(plain.message).toContain('TASKFLEET_KEY_VAULT_URL: must be an https:// URL');
    expect(vault.reads).toEqual([]);
  });

  it('validates resolved values like any other, without echoing them', async () => {
    const vault = fakeVault({ short: 'too-short-key' });
    const err = await configError(
      resolveConfig(
        { TASKFLEET_ADMIN_API_KEY: 'kv://short', TASKFLEET_KEY_VAULT_URL: VAULT },
        { secretReader: vault.reader },
      ),
    );
    expect(err.message).toMatch(/TASKFLEET_ADMIN_API_KEY: must be at least 32 characters/);
    expect(err.message).not.toContain('too-short-key');
  });
});

describe('findReferences', () => {
  const variables = ['TASKFLEET_A', 'TASKFLEET_B', 'TASKFLEET_KEY_VAULT_URL', 'TASKFLEET_AZURE_CLIENT_ID'];

  it('finds kv:// values among the known variables only', () => {
    expect(findReferences({ TASKFLEET_A: 'kv://sec-1', TASKFLEET_B: 'plain', OTHER: 'kv://x' }, variables)).toEqual([
      { variable: 'TASKFLEET_A', secret: 'sec-1' },
    ]);
  });

  it.each([
    ['TASKFLEET_A', 'kv://under_score'],
    ['TASKFLEET_A', 'kv://'],
    ['TASKFLEET_A', `kv://${'a'.repeat(128)}`],
    ['TASKFLEET_KEY_VAULT_URL', 'kv://vault'],
    ['TASKFLEET_AZURE_CLIENT_ID', 'kv://id'],
  ])('refuses %s=%s, naming the variable', (variable, value) => {
    expect(() => findReferences({ [variable]: value }, variables)).toThrow(ConfigError);
    expect(() => findReferences({ [variable]: value }, variables)).toThrow(
      new RegExp(`^invalid configuration:\\n  ${variable}: `),
    );
  });

  it('resolveReferences returns the environment untouched when there is nothing to resolve', async () => {
    const env = { TASKFLEET_A: 'x' };
    await expect(
      resolveReferences(env, [], { url: undefined, reader: () => fakeVault({}).reader('', null) }),
    ).resolves.toBe(env);
  });
});
