/**
 * The one Azure credential of a process, shared by every pooled SQL connection and the Key Vault client.
 *
 * tedious asks for an Entra token each time it opens a connection. Handing the pool one long-lived
 * TokenCredential (rather than a token, or a credential per connection) lets the Azure SDK cache and refresh
 * the token, so a connection opened hours after start still logs in. @azure/identity is loaded on first use:
 * a process on the embedded store never pays for it.
 */
import type { TokenCredential } from '@azure/identity';

const credentials = new Map<string, TokenCredential>();

/**
 * The process's credential: a user-assigned managed identity when `clientId` is given, otherwise
 * DefaultAzureCredential (environment, workload identity, managed identity, Azure CLI, …). One instance per
 * client id, created once.
 */
export function azureCredential(clientId: string | null): TokenCredential {
  const key = clientId ?? '';
  let credential = credentials.get(key);
  if (!credential) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const identity = require('@azure/identity') as typeof import('@azure/identity');
    credential =
      clientId === null ? new identity.DefaultAzureCredential() : new identity.ManagedIdentityCredential({ clientId });
    credentials.set(key, credential);
  }
  return credential;
}
