/**
 * The data keys that encrypt sensitive tasks (TASKFLEET_DATA_KEY): a list `id:<base64 of 32 bytes>`, comma
 * separated, e.g. `k2:<…>,k1:<…>`. The first key writes; every key listed reads. Rotating is adding a new key in
 * front and keeping the old ones until no stored task needs them.
 *
 * The key material never leaves this object by accident: it is held in a private field, and the object prints
 * and serialises as its key ids only, so a logged or dumped configuration shows no key.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** A key id is stored beside every ciphertext: short, and without the separators of the stored form. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
export const DATA_KEY_BYTES = 32;

/** Why a TASKFLEET_DATA_KEY value is malformed; null when it is well formed. Never quotes key material. */
export function dataKeyProblem(text: string): string | null {
  const entries = text.split(',').map((e) => e.trim());
  const seen = new Set<string>();
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon);
    const material = colon < 0 ? '' : entry.slice(colon + 1);
    const where = `key ${i + 1}`;
    if (colon < 0)
      return `${where}: must be <id>:<base64 of ${DATA_KEY_BYTES} bytes> (e.g. k1:$(openssl rand -base64 32))`;
    if (!KEY_ID_PATTERN.test(id)) return `${where}: the id must be 1 to 32 letters, digits, "_" or "-"`;
    if (seen.has(id)) return `${where}: the id "${id}" is listed twice`;
    seen.add(id);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(material) || Buffer.from(material, 'base64').length !== DATA_KEY_BYTES) {
      return `${where} ("${id}"): must be exactly ${DATA_KEY_BYTES} bytes in standard base64 (44 characters)`;
    }
  }
  return null;
}

export class DataKeyRing {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #text: string;
  /** The id of the key that encrypts new values. */
  readonly writeKeyId: string;

  private constructor(keys: Map<string, Buffer>, writeKeyId: string, text: string) {
    this.#keys = keys;
    this.writeKeyId = writeKeyId;
    this.#text = text;
  }

  /** Parses TASKFLEET_DATA_KEY; throws an Error naming the problem (never the key) when it is malformed. */
  static parse(text: string): DataKeyRing {
    const problem = dataKeyProblem(text);
    if (problem !== null) throw new Error(problem);
    const keys = new Map<string, Buffer>();
    const entries = text.split(',').map((e) => e.trim());
    for (const entry of entries) {
      const colon = entry.indexOf(':');
      keys.set(entry.slice(0, colon), Buffer.from(entry.slice(colon + 1), 'base64'));
    }
    const first = entries[0] ?? '';
    return new DataKeyRing(keys, first.slice(0, first.indexOf(':')), entries.join(','));
  }

  /** Every key id, the writing one first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** The key with this id, or null when it is not configured. */
  key(id: string): Buffer | null {
    return this.#keys.get(id) ?? null;
  }

  /**
   * A keyed hash (HMAC-SHA-256 under a key derived from key `id`, the writing one by default) of `text`,
   * as `<id>:<hex>`: how a sensitive task's request is compared on an idempotent resubmission without storing
   * a plain hash of its payload, which anyone could test guesses against.
   */
  requestMac(text: string, id: string = this.writeKeyId): string {
    const key = this.#keys.get(id);
    if (!key) throw new Error(`data key ${id} is not configured`);
    const macKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'taskfleet request hash', 32));
    return `${id}:${createHmac('sha256', macKey).update(text).digest('hex')}`;
  }

  /** The TASKFLEET_DATA_KEY value this ring was parsed from (normalised): for a child process that needs it. */
  toEnvValue(): string {
    return this.#text;
  }

  toJSON(): { writeKeyId: string; keyIds: string[] } {
    return { writeKeyId: this.writeKeyId, keyIds: this.keyIds };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `DataKeyRing { writeKeyId: ${this.writeKeyId}, keyIds: ${this.keyIds.join(',')} }`;
  }
}

/** A fresh TASKFLEET_DATA_KEY entry: `<id>:<base64 of 32 random bytes>`. */
export function generateDataKey(id: string): string {
  if (!KEY_ID_PATTERN.test(id)) throw new Error('the id must be 1 to 32 letters, digits, "_" or "-"');
  return `${id}:${randomBytes(DATA_KEY_BYTES).toString('base64')}`;
}
