/**
 * Sealing a sensitive task's payload and result: AES-256-GCM with a random 96-bit nonce per value. What the
 * store holds in the payload or result column is a small JSON object, `{ sealed: 1, kid, iv, data }`: the id of
 * the key (so keys can rotate), the nonce, and the ciphertext with its 16-byte tag, in base64. The task id and
 * the field name are the additional authenticated data, so a sealed value moved to another task, or from the
 * payload to the result, fails authentication like a flipped byte does.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TaskfleetError, type Problem } from '../domain/errors';
import type { DataKeyRing } from './dataKeys';

/** What a sealed value is: a task's payload or result, or a webhook signing secret (src/webhooks/secrets.ts). */
export type SealedField = 'payload' | 'result' | 'webhookSecret';

export interface SealedValue {
  sealed: 1;
  kid: string;
  iv: string;
  data: string;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** What a list shows in place of a sensitive task's payload and result. */
export const REDACTED = '[redacted]';

const aad = (taskId: string, field: SealedField) => Buffer.from(`taskfleet:v1:${taskId}:${field}`, 'utf8');

/** A sensitive value that cannot be read: its key is not configured, or it fails authentication. */
export class SealedDataError extends TaskfleetError {
  constructor(
    readonly taskId: string,
    readonly reason: 'key_missing' | 'invalid',
    message: string,
  ) {
    super(message, 500, reason === 'key_missing' ? 'data_key_missing' : 'sealed_data_invalid');
  }

  /** The text names the task, the field and the key id, never a value: it is safe to show and to log. */
  override problem(): Problem {
    return { ...super.problem(), detail: this.message };
  }
}

/** Encrypts `value` (as JSON) for `field` of task `taskId` with the ring's writing key. */
export function sealValue(ring: DataKeyRing, taskId: string, field: SealedField, value: unknown): SealedValue {
  const key = ring.key(ring.writeKeyId);
  if (!key) throw new Error('the writing data key is missing from its own ring');
  const iv = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(taskId, field));
  const plain = Buffer.from(JSON.stringify(value === undefined ? null : value), 'utf8');
  const data = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return { sealed: 1, kid: ring.writeKeyId, iv: iv.toString('base64'), data: data.toString('base64') };
}

function isSealed(stored: unknown): stored is SealedValue {
  if (typeof stored !== 'object' || stored === null) return false;
  const s = stored as Record<string, unknown>;
  return s.sealed === 1 && typeof s.kid === 'string' && typeof s.iv === 'string' && typeof s.data === 'string';
}

/**
 * Decrypts a sealed `field` of task `taskId`. Throws SealedDataError when the key is not configured (or no key
 * is), or when the value is not a sealed value or fails authentication (altered, or moved from another row).
 */
export function openValue(ring: DataKeyRing | null, taskId: string, field: SealedField, stored: unknown): unknown {
  const invalid = () =>
    new SealedDataError(
      taskId,
      'invalid',
      `the stored ${field} of sensitive task ${taskId} failed authentication: it was altered or does not belong to this task`,
    );
  if (!isSealed(stored)) throw invalid();
  const key = ring?.key(stored.kid) ?? null;
  if (!key) {
    const configured = ring ? `the configured keys are ${ring.keyIds.join(', ')}` : 'no key is configured';
    throw new SealedDataError(
      taskId,
      'key_missing',
      `the ${field} of sensitive task ${taskId} is encrypted with data key "${stored.kid}", which TASKFLEET_DATA_KEY does not hold (${configured})`,
    );
  }
  const iv = Buffer.from(stored.iv, 'base64');
  const data = Buffer.from(stored.data, 'base64');
  if (iv.length !== NONCE_BYTES || data.length < TAG_BYTES) throw invalid();
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv);
    decipher.setAAD(aad(taskId, field));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - TAG_BYTES)), decipher.final()]);
    return JSON.parse(plain.toString('utf8')) as unknown;
  } catch {
    throw invalid();
  }
}
