/**
 * Webhook signing secrets: `whsec_` and 32 random bytes in base64, the Standard Webhooks format. A secret is
 * shown once (at creation or rotation) and stored sealed with the writing data key when TASKFLEET_DATA_KEY is
 * configured (AES-256-GCM, bound to its owner: a subscription id or `key:<api key id>`), so a copy of the
 * database alone does not let anyone forge deliveries. Without a data key it is stored as it is.
 */
import { randomBytes } from 'node:crypto';
import type { DataKeyRing } from '../security/dataKeys';
import { openValue, sealValue } from '../security/encryption';

const PREFIX = 'whsec_';

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** The owner a key's callbackUrl secret is bound to. */
export const keySecretOwner = (keyId: string) => `key:${keyId}`;

export function sealSecret(ring: DataKeyRing | null, owner: string, secret: string): string {
  return ring ? JSON.stringify(sealValue(ring, owner, 'webhookSecret', secret)) : secret;
}

/** The plain secret; throws SealedDataError when it is sealed under a key this process does not hold. */
export function openSecret(ring: DataKeyRing | null, owner: string, stored: string): string {
  if (stored.startsWith(PREFIX)) return stored;
  return String(openValue(ring, owner, 'webhookSecret', JSON.parse(stored) as unknown));
}
