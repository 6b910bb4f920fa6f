/**
 * The SSRF guard of webhooks (src/webhooks/urlGuard.ts): which URLs and addresses are refused, before and after
 * DNS. Names are resolved by a table in the test for the rebinding cases (the guard takes its resolver), and by
 * the system for `localhost`.
 */
import { refusedAddressReason, UrlGuard, type Resolver } from '../../src/webhooks/urlGuard';

const table: Record<string, string[]> = {
  'public.example': ['93.184.216.34'],
  'internal.example': ['10.1.2.3'],
  'metadata.example': ['169.254.169.254'],
  'mixed.example': ['93.184.216.34', '192.168.1.10'],
  'mapped.example': ['::ffff:127.0.0.1'],
  'v6.example': ['2606:4700:4700::1111'],
};
const resolver: Resolver = async (host) => {
  const addresses = table[host];
  if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('refusedAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private (unique local)'],
    ['fd12:3456::1', 'private (unique local)'],
    ['fe80::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback, as IPv6'],
    ['::ffff:7f00:1', 'loopback, as IPv6'],
    ['::ffff:169.254.169.254', 'link-local (cloud metadata), as IPv6'],
    ['64:ff9b::a00:1', 'private, as IPv6'],
    ['::127.0.0.1', 'IPv4-compatible'],
  ])('refuses %s (%s)', (address, why) => {
    expect(refusedAddressReason(address)).toBe(why);
  });

  it.each(['93.184.216.34', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(refusedAddressReason(address)).toBeNull();
    },
  );
});

describe('UrlGuard', () => {
  const guard = new UrlGuard([], resolver);

  it.each([
    ['not a url', 'must be an absolute URL'],
    ['ftp://public.example/x', 'must be an https URL'],
    ['http://public.example/x', 'must be an https URL (http only for hosts in TASKFLEET_WEBHOOK_ALLOW_HOSTS)'],
    ['https://user:pw@public.example/x', 'must not carry credentials'],
    ['https://127.0.0.1/x', 'must not point to a loopback address (127.0.0.1)'],
    ['https://10.0.0.7:8443/x', 'must not point to a private address (10.0.0.7)'],
    [
      'https://169.254.169.254/latest/meta-data',
      'must not point to a link-local (cloud metadata) address (169.254.169.254)',
    ],
    ['https://[::1]/x', 'must not point to a loopback address (::1)'],
    ['https://[::ffff:10.0.0.1]/x', 'must not point to a private, as IPv6 address (::ffff:a00:1)'],
    ['https://2130706433/x', 'must not point to a loopback address (127.0.0.1)'],
    ['https://0x7f.1/x', 'must not point to a loopback address (127.0.0.1)'],
    ['https://internal.example/x', 'must not point to a private address (internal.example is 10.1.2.3)'],
    [
      'https://metadata.example/x',
      'must not point to a link-local (cloud metadata) address (metadata.example is 169.254.169.254)',
    ],
    ['https://mixed.example/x', 'must not point to a private address (mixed.example is 192.168.1.10)'],
    ['https://mapped.example/x', 'must not point to a loopback, as IPv6 address (mapped.example is ::ffff:127.0.0.1)'],
    ['https://nowhere.example/x', 'host nowhere.example does not resolve (ENOTFOUND)'],
  ])('refuses %s', async (url, message) => {
    expect(await guard.problem(url)).toBe(message);
  });

  it('refuses a name the system resolves to loopback (localhost)', async () => {
    expect(await new UrlGuard([]).problem('https://localhost/x')).toMatch(/^must not point to a loopback address/);
  });

  it('allows https to a public name, pinned to the address it checked', async () => {
    expect(await guard.problem('https://public.example/hooks?x=1')).toBeNull();
    await expect(guard.resolveForSend('https://v6.example/x')).resolves.toMatchObject({
      host: 'v6.example',
      address: '2606:4700:4700::1111',
      family: 6,
    });
  });

  it('lets a host named in the allow list be private and plain http, by name or by host:port', async () => {
    const allowing = new UrlGuard(['127.0.0.1', 'internal.example:8080'], resolver);
    expect(await allowing.problem('http://127.0.0.1:9999/x')).toBeNull();
    expect(await allowing.problem('http://internal.example:8080/x')).toBeNull();
    expect(await allowing.problem('http://internal.example:8081/x')).toMatch(/^must be an https URL/);
    expect(await allowing.problem('https://internal.example/x')).toMatch(/^must not point to a private address/);
    expect(await allowing.problem('http://localhost:9999/x')).toMatch(/^must be an https URL/);
  });
});
