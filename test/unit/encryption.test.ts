/** Sealing values with the data keys: AES-256-GCM bound to its task and field, keys parsed strictly. */
import { Writable } from 'node:stream';
import pino from 'pino';
import { resolveConfig } from '../../src/config/resolve';
import { DataKeyRing, dataKeyProblem, generateDataKey } from '../../src/security/dataKeys';
import { openValue, sealValue, type SealedValue } from '../../src/security/encryption';
import { redactingLogger } from '../../src/security/redact';

const ring = DataKeyRing.parse(`k1:${Buffer.alloc(32, 1).toString('base64')}`);
const value = { card: '4111-1111-1111-1111', nested: [1, null, 'x'] };

describe('sealValue / openValue', () => {
  it('round-trips any JSON value with a fresh nonce each time, the key id beside it', () => {
    const a = sealValue(ring, 'task-1', 'payload', value);
    const b = sealValue(ring, 'task-1', 'payload', value);
    expect(a.kid).toBe('k1');
    expect(Buffer.from(a.iv, 'base64')).toHaveLength(12);
    expect(a.iv).not.toBe(b.iv);
    expect(a.data).not.toBe(b.data);
    expect(JSON.stringify(a)).not.toContain('4111');
    for (const v of [value, 'text', 42, null, [], undefined]) {
      expect(openValue(ring, 't', 'result', sealValue(ring, 't', 'result', v))).toEqual(v ?? null);
    }
  });

  it('refuses any flipped byte of the nonce or the ciphertext and tag', () => {
    const sealed = sealValue(ring, 'task-1', 'payload', value);
    for (const field of ['iv', 'data'] as const) {
      const bytes = Buffer.from(sealed[field], 'base64');
      for (let i = 0; i < bytes.length; i++) {
        const copy = Buffer.from(bytes);
        copy[i] = (copy[i] ?? 0) ^ 0x80;
        const altered: SealedValue = { ...sealed, [field]: copy.toString('base64') };
        expect(() => openValue(ring, 'task-1', 'payload', altered)).toThrow(/failed authentication/);
      }
    }
  });

  it('binds a value to its task and its field', () => {
    const sealed = sealValue(ring, 'task-1', 'payload', value);
    expect(() => openValue(ring, 'task-2', 'payload', sealed)).toThrow(/task task-2 failed authentication/);
    expect(() => openValue(ring, 'task-1', 'result', sealed)).toThrow(/failed authentication/);
    expect(() => openValue(ring, 'task-1', 'payload', { plain: true })).toThrow(/failed authentication/);
  });
});

describe('TASKFLEET_DATA_KEY', () => {
  it('accepts what generateDataKey makes, and lists of them', () => {
    const text = `${generateDataKey('k3')},${generateDataKey('k2')}`;
    expect(dataKeyProblem(text)).toBeNull();
    expect(DataKeyRing.parse(text).keyIds).toEqual(['k3', 'k2']);
  });

  it.each([
    ['', /must be <id>:<base64/],
    ['k1', /must be <id>:<base64/],
    [`:${Buffer.alloc(32).toString('base64')}`, /the id must be/],
    [`k1:${Buffer.alloc(31).toString('base64')}`, /exactly 32 bytes/],
    [`k1:${Buffer.alloc(32).toString('hex')}`, /exactly 32 bytes/],
    [`k1:${Buffer.alloc(32).toString('base64')},`, /key 2: must be/],
  ])('rejects %p', (text, problem) => {
    expect(dataKeyProblem(text)).toMatch(problem);
    expect(() => DataKeyRing.parse(text)).toThrow(problem);
  });

  it('derives a request hash per key, so a replay is compared under the key it was stored with', () => {
    const both = DataKeyRing.parse(
      `k2:${Buffer.alloc(32, 2).toString('base64')},k1:${Buffer.alloc(32, 1).toString('base64')}`,
    );
    expect(both.requestMac('abc', 'k1')).toBe(ring.requestMac('abc'));
    expect(both.requestMac('abc')).toMatch(/^k2:[0-9a-f]{64}$/);
    expect(both.requestMac('abc')).not.toBe(both.requestMac('abd'));
  });
});

describe('TASKFLEET_DATA_KEY as a Key Vault reference', () => {
  const VAULT = 'https://tf-vault.vault.azure.net';
  /** A vault double behind the SecretReader interface (no Azure endpoint exists here). */
  const vault = (secrets: Record<string, string>) => () => ({
    getSecret: async (name: string) => {
      if (!(name in secrets)) throw Object.assign(new Error('not found'), { code: 'SecretNotFound', statusCode: 404 });
      return { value: secrets[name] };
    },
  });

  it('resolves kv://<secret> to the key ring', async () => {
    const text = `${generateDataKey('k2')},${generateDataKey('k1')}`;
    const config = await resolveConfig(
      { TASKFLEET_DATA_KEY: 'kv://taskfleet-data-key', TASKFLEET_KEY_VAULT_URL: VAULT },
      { secretReader: vault({ 'taskfleet-data-key': text }) },
    );
    expect(config.dataKeys?.keyIds).toEqual(['k2', 'k1']);
    expect(config.dataKeys?.toEnvValue()).toBe(text);
  });

  it('names the variable, never the value, when the secret is malformed', async () => {
    const bad = `k1:${Buffer.alloc(8, 9).toString('base64')}`;
    const err = await resolveConfig(
      { TASKFLEET_DATA_KEY: 'kv://taskfleet-data-key', TASKFLEET_KEY_VAULT_URL: VAULT },
      { secretReader: vault({ 'taskfleet-data-key': bad }) },
    ).catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect((err as Error).message).toMatch(/TASKFLEET_DATA_KEY: key 1 \("k1"\): must be exactly 32 bytes/);
    expect((err as Error).message).not.toContain(Buffer.alloc(8, 9).toString('base64'));
  });
});

describe('logs', () => {
  it('censor payloads and results, bare or one level down', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = redactingLogger(pino({ level: 'info' }, sink));
    log.info({ payload: value }, 'bare');
    log.info({ task: { id: 't', payload: value, result: value } }, 'nested');
    log.info({ result: 'secret-result' }, 'result');
    expect(out.split('\n').filter(Boolean)).toHaveLength(3);
    expect(out).not.toContain('4111');
    expect(out).not.toContain('secret-result');
    expect(out).toContain('"id":"t"');
  });
});
