/**
 * The SSRF guard of outbound webhooks. A webhook URL is chosen by whoever holds an API key, and the supervisor
 * sends to it from inside the fleet's network, so by default only `https` to public addresses is allowed:
 * loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10),
 * unspecified, multicast, CGNAT (100.64/10), reserved, and IPv4-mapped or NAT64 forms of those are refused.
 * The check runs on the resolved addresses, at submission and again at every send, and the sender connects to
 * the very address checked (`resolveForSend`), so a DNS answer cannot change between the check and the connect.
 * Hosts named in TASKFLEET_WEBHOOK_ALLOW_HOSTS (`host` or `host:port`) skip the address check and may use http.
 */
import { promises as dns } from 'node:dns';
import net from 'node:net';

export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (host) => dns.lookup(host, { all: true, verbatim: true });

const V4_REFUSED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared (CGNAT)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];
const V6_REFUSED: Array<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['::', 96, 'IPv4-compatible'],
  ['100::', 64, 'discard'],
  ['2001:db8::', 32, 'documentation'],
  ['fc00::', 7, 'private (unique local)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

const blocks = (rules: Array<[string, number, string]>, family: 'ipv4' | 'ipv6') =>
  rules.map(([net0, prefix, why]) => {
    const list = new net.BlockList();
    list.addSubnet(net0, prefix, family);
    return { list, why, family };
  });
const V4_BLOCKS = blocks(V4_REFUSED, 'ipv4');
const V6_BLOCKS = blocks(V6_REFUSED, 'ipv6');

/** The 16 bytes of an IPv6 address (with an embedded dotted IPv4 tail, too). */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase();
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail?.[1]) {
    const [a, b, c, d] = tail[1].split('.').map(Number) as [number, number, number, number];
    text = text.slice(0, -tail[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const r = rest === undefined ? [] : groups(rest);
  const all = rest === undefined ? h : [...h, ...Array<string>(8 - h.length - r.length).fill('0'), ...r];
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The IPv4 address an IPv6 one carries (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96), or null. */
function embeddedIpv4(bytes: number[]): string | null {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);
  const mapped = zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff;
  const nat64 = bytes[0] === 0 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12);
  return mapped || nat64 ? bytes.slice(12).join('.') : null;
}

/** Why an address may not be reached, or null for a public one. */
export function refusedAddressReason(address: string): string | null {
  const family = net.isIP(address);
  if (family === 4) return V4_BLOCKS.find((b) => b.list.check(address, 'ipv4'))?.why ?? null;
  if (family !== 6) return 'not an IP address';
  const v4 = embeddedIpv4(ipv6Bytes(address));
  if (v4 !== null) {
    const why = refusedAddressReason(v4);
    return why === null ? null : `${why}, as IPv6`;
  }
  return V6_BLOCKS.find((b) => b.list.check(address, 'ipv6'))?.why ?? null;
}

/** A URL refused by the guard; `message` says why (shown to the API caller as the field's problem). */
export class RefusedUrlError extends Error {
  override readonly name = 'RefusedUrlError';
}

export interface CheckedTarget {
  url: URL;
  /** The host name without IPv6 brackets. */
  host: string;
  /** The address to connect to: the one checked. */
  address: string;
  family: 4 | 6;
}

export class UrlGuard {
  private readonly allowHosts: ReadonlySet<string>;

  constructor(
    allowHosts: readonly string[],
    private readonly resolver: Resolver = systemResolver,
  ) {
    this.allowHosts = new Set(allowHosts.map((h) => h.toLowerCase()));
  }

  /** The checks that need no DNS: syntax, scheme, credentials, and a literal IP address. Throws RefusedUrlError. */
  parse(text: string): { url: URL; host: string; allowed: boolean } {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RefusedUrlError('must be an absolute URL');
    }
    if (text.length > 2048) throw new RefusedUrlError('must be at most 2048 characters');
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RefusedUrlError('must be an https URL');
    if (url.username !== '' || url.password !== '') throw new RefusedUrlError('must not carry credentials');
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    const named = url.hostname.toLowerCase();
    const allowed = [host, named, `${host}:${port}`, `${named}:${port}`].some((h) => this.allowHosts.has(h));
    if (!allowed && url.protocol !== 'https:') {
      throw new RefusedUrlError('must be an https URL (http only for hosts in TASKFLEET_WEBHOOK_ALLOW_HOSTS)');
    }
    if (!allowed && net.isIP(host) !== 0) {
      const why = refusedAddressReason(host);
      if (why !== null) throw new RefusedUrlError(`must not point to a ${why} address (${host})`);
    }
    return { url, host, allowed };
  }

  /**
   * Resolves the URL's host and checks every address it has (one refused address refuses the URL: a name
   * answering with a public and a private address could be steered to either). Throws RefusedUrlError.
   */
  async resolveForSend(text: string): Promise<CheckedTarget> {
    const { url, host, allowed } = this.parse(text);
    const literal = net.isIP(host);
    if (literal !== 0) return { url, host, address: host, family: literal as 4 | 6 };
    let answers: Array<{ address: string; family: number }>;
    try {
      answers = await this.resolver(host);
    } catch (err) {
      throw new RefusedUrlError(`host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (answers.length === 0) throw new RefusedUrlError(`host ${host} does not resolve`);
    if (!allowed) {
      for (const a of answers) {
        const why = refusedAddressReason(a.address);
        if (why !== null) throw new RefusedUrlError(`must not point to a ${why} address (${host} is ${a.address})`);
      }
    }
    const first = answers[0]!;
    return { url, host, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  /** The submission check: null when the URL may be used, else why not. */
  async problem(text: string): Promise<string | null> {
    try {
      await this.resolveForSend(text);
      return null;
    } catch (err) {
      if (err instanceof RefusedUrlError) return err.message;
      throw err;
    }
  }
}
