/**
 * The configuration as a process starts with it: Key Vault references resolved (asynchronously, once),
 * then validated by loadConfig. loadConfig itself stays synchronous and never reaches the network.
 */
import { azureCredential } from './azure';
import { CONFIG_VARIABLES, loadConfig, type Config } from './config';
import { findReferences, resolveReferences, type SecretReader } from './keyVault';

export interface ResolveOptions {
  /** Makes the client that reads secrets (tests pass a double; by default @azure/keyvault-secrets' SecretClient). */
  secretReader?: (vaultUrl: string, clientId: string | null) => SecretReader;
}

function keyVaultClient(vaultUrl: string, clientId: string | null): SecretReader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { SecretClient } = require('@azure/keyvault-secrets') as typeof import('@azure/keyvault-secrets');
  return new SecretClient(vaultUrl, azureCredential(clientId));
}

/** Reads the environment, resolving `kv://` references; throws ConfigError naming each bad variable. */
export async function resolveConfig(env: NodeJS.ProcessEnv = process.env, opts: ResolveOptions = {}): Promise<Config> {
  const refs = findReferences(env, CONFIG_VARIABLES);
  const clientId = env.TASKFLEET_AZURE_CLIENT_ID?.trim() || null;
  const makeReader = opts.secretReader ?? keyVaultClient;
  const resolved = await resolveReferences(env, refs, {
    url: env.TASKFLEET_KEY_VAULT_URL?.trim(),
    reader: (url) => makeReader(url, clientId),
  });
  return loadConfig(resolved);
}
