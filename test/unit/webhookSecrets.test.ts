/** Webhook signing secrets: their format, and sealing at rest with the data key (src/webhooks/secrets.ts). */
import { Webhook } from 'standardwebhooks';
import { DataKeyRing } from '../../src/security/dataKeys';
import { SealedDataError } from '../../src/security/encryption';
import { generateSecret, openSecret, sealSecret } from '../../src/webhooks/secrets';
import { signatureHeaders } from '../../src/webhooks/sender';

const ring = DataKeyRing.parse(`k1:${Buffer.alloc(32, 7).toString('base64')}`);

describe('webhook secrets', () => {
  it('are whsec_ and 32 random bytes, usable by the standardwebhooks library', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(generateSecret()).not.toBe(secret);
    const body = '{"type":"task.dead"}';
    const headers = signatureHeaders(secret, 'msg_1', new Date(), body);
    expect(new Webhook(secret).verify(body, headers)).toEqual({ type: 'task.dead' });
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('are stored sealed with a data key, bound to their owner, and plain without one', () => {
    const secret = generateSecret();
    const sealed = sealSecret(ring, 'sub-1', secret);
    expect(sealed).not.toContain(secret.slice(6));
    expect(JSON.parse(sealed)).toMatchObject({ sealed: 1, kid: 'k1' });
    expect(openSecret(ring, 'sub-1', sealed)).toBe(secret);
    expect(() => openSecret(ring, 'sub-2', sealed)).toThrow(SealedDataError);
    expect(() => openSecret(null, 'sub-1', sealed)).toThrow(SealedDataError);
    expect(sealSecret(null, 'sub-1', secret)).toBe(secret);
    expect(openSecret(null, 'sub-1', secret)).toBe(secret);
  });
});
