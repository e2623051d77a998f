import { describe, expect, it } from 'vitest';
import {
  buildAllowlist,
  editAllowlist,
  formatHostEntry,
  gitRemoteHostOf,
  isAllowed,
  modelApiHostOf,
  neverReachedReason,
  parseHostEntry,
  parseHostList,
} from '../../src/domain/egress.js';
import { forbiddenAddressReason, inSubnet, nextFreeSubnet, numericIpv4, parseCidr } from '../../src/domain/ipv4.js';
import { checkSettingValue } from '../../src/domain/settings.js';

describe('allowlist entries', () => {
  it('takes host names, wildcards, IPv4 addresses and ports, in any case', () => {
    expect(parseHostEntry('Registry.NPMjs.org')).toEqual({ host: 'registry.npmjs.org', wildcard: false });
    expect(parseHostEntry('*.github.com')).toEqual({ host: 'github.com', wildcard: true });
    expect(parseHostEntry('10.1.2.3:8080')).toEqual({ host: '10.1.2.3', wildcard: false, port: 8080 });
    expect(formatHostEntry(parseHostEntry(' *.Example.com:8443 '))).toBe('*.example.com:8443');
  });

  it.each([
    ['', /expected a host name/],
    ['http://github.com', /expected a host name/],
    ['github.com/path', /expected a host name/],
    ['../../etc/passwd', /expected a host name/],
    ['a\0b.com', /expected a host name/],
    ['host;rm -rf /', /expected a host name/],
    ['$(whoami).com', /expected a host name/],
    ['аpi.github.com', /expected a host name/], // a Cyrillic а
    ['github.com\u200b', /expected a host name/], // a zero-width space
    ['-bad.com', /expected a host name/],
    [`${'a'.repeat(64)}.com`, /expected a host name/],
    [`${'a.'.repeat(200)}com`, /expected a host name/],
    ['*.com', /two labels or more/],
    ['*.10.0.0.1', /wildcard takes a domain/],
    ['github.com:0', /port must be between/],
    ['github.com:70000', /port must be between/],
    ['1.2.3.999', /not a host name, nor an IPv4/],
    ['[::1]:443', /expected a host name/],
  ])('refuses %j in one line', (text, reason) => {
    expect(() => parseHostEntry(text)).toThrow(reason);
    try {
      parseHostEntry(text);
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('validates net.allow as a setting, naming the bad entry', () => {
    expect(checkSettingValue('net.allow', 'github.com, *.npmjs.org')).toBe('github.com, *.npmjs.org');
    expect(() => checkSettingValue('net.allow', 'github.com,evil;host')).toThrow(/^setting net\.allow: allowlist entry "evil;host"/);
    expect(() => checkSettingValue('net.allow', 'x'.repeat(5000))).toThrow(/setting net\.allow/);
  });
});

describe('entries berth never connects to', () => {
  const pool = [parseCidr('10.239.0.0/16')!];
  const reasonFor = (text: string) => neverReachedReason(parseHostEntry(text), pool);

  it.each([
    ['localhost', /^localhost is this machine: berth never connects there$/],
    ['LocalHost:8080', /^localhost is this machine/],
    ['app.localhost', /^app\.localhost is this machine/],
    ['127.0.0.1', /^127\.0\.0\.1 is this machine's loopback/],
    ['127.5.5.5:22', /loopback/],
    ['169.254.169.254', /^169\.254\.169\.254 is a link-local address \(cloud metadata lives there\)/],
    ['metadata.google.internal', /^metadata\.google\.internal is a cloud's metadata service/],
    ['*.google.internal', /^metadata\.google\.internal is a cloud's metadata service/],
    ['instance-data.ec2.internal:80', /metadata service/],
    ['0.0.0.0', /unspecified/],
    ['10.239.0.5', /^10\.239\.0\.5 is in berth's own networks \(10\.239\.0\.0\/16, network\.subnetPool\)/],
  ])('names why for %j, in one line', (text, reason) => {
    expect(reasonFor(text)).toMatch(reason);
    expect(reasonFor(text)).not.toContain('\n');
  });

  it('lets other hosts and addresses be entered', () => {
    for (const text of ['registry.npmjs.org', '*.github.com', '8.8.8.8:53', '10.240.0.5', '192.168.1.10:8080', 'localhost.example.com', 'metadata.example.com']) {
      expect(reasonFor(text), text).toBeUndefined();
    }
    // Another pool: its addresses are berth's own, the default's are not.
    expect(neverReachedReason(parseHostEntry('10.239.0.5'), [parseCidr('172.30.0.0/16')!])).toBeUndefined();
    expect(neverReachedReason(parseHostEntry('172.30.1.1'), [parseCidr('172.30.0.0/16')!])).toMatch(/berth's own networks/);
  });

  it.each([
    ['0x7f000001', '127.0.0.1'],
    ['2130706433', '127.0.0.1'],
    ['0177.0.0.1', '127.0.0.1'],
    ['017700000001', '127.0.0.1'],
    ['127.000.000.001', '127.0.0.1'],
    ['127.1', '127.0.0.1'],
    ['0x7f.0.0.1:8080', '127.0.0.1'],
    ['0xA9FEA9FE', '169.254.169.254'],
    ['0', '0.0.0.0'],
  ])('refuses the numeric trick %j as the address it is (%s), saying why', (text, address) => {
    expect(() => parseHostEntry(text)).toThrow(new RegExp(`^allowlist entry "${text.replace(/\./g, '\\.')}": it is the address ${address.replace(/\./g, '\\.')} written another way, .*: berth never connects there$`));
  });

  it('refuses a numeric form of an ordinary address too, naming its usual form', () => {
    expect(() => parseHostEntry('0x08080808')).toThrow(/^allowlist entry "0x08080808": it is the address 8\.8\.8\.8 written another way: write 8\.8\.8\.8$/);
  });

  it('reads the forms the resolver reads, and only those', () => {
    expect(numericIpv4('10.1.2.3')).toBe('10.1.2.3');
    expect(numericIpv4('10.0x10.0300')).toBe('10.16.0.192');
    expect(numericIpv4('1.2.3.256')).toBeUndefined();
    expect(numericIpv4('1.65536')).toBe('1.1.0.0');
    expect(numericIpv4('1.16777216')).toBeUndefined();
    expect(numericIpv4('4294967296')).toBeUndefined();
    expect(numericIpv4('08.1.1.1')).toBeUndefined();
    expect(numericIpv4('1.2.3.4.5')).toBeUndefined();
    expect(numericIpv4('github.com')).toBeUndefined();
    expect(numericIpv4('0x')).toBeUndefined();
  });
});

describe('matching', () => {
  const list = parseHostList('github.com,*.githubusercontent.com,10.0.0.5:8080');

  it('lets through a named host on 80 and 443, a subdomain of a wildcard, and a named port', () => {
    expect(isAllowed(list, 'github.com', 443)).toBe(true);
    expect(isAllowed(list, 'GitHub.com.', 80)).toBe(true);
    expect(isAllowed(list, 'raw.githubusercontent.com', 443)).toBe(true);
    expect(isAllowed(list, '10.0.0.5', 8080)).toBe(true);
  });

  it('refuses anything else', () => {
    expect(isAllowed(list, 'github.com', 22)).toBe(false);
    expect(isAllowed(list, 'api.github.com', 443)).toBe(false);
    expect(isAllowed(list, 'githubusercontent.com', 443)).toBe(false);
    expect(isAllowed(list, 'evilgithub.com', 443)).toBe(false);
    expect(isAllowed(list, 'github.com.evil.org', 443)).toBe(false);
    expect(isAllowed(list, '10.0.0.5', 443)).toBe(false);
    expect(isAllowed([], 'github.com', 443)).toBe(false);
  });
});

describe("a project's allowlist", () => {
  it('holds the defaults, the model API host and the git remote host, then net.allow, less net.deny', () => {
    const list = buildAllowlist({ modelApiHost: 'api.anthropic.com', gitRemoteHost: 'gitlab.example.org', allow: 'pypi.org', deny: 'registry.npmjs.org' });
    expect(list.map((entry) => [formatHostEntry(entry), entry.source])).toEqual([
      ['api.anthropic.com', 'model API'],
      ['gitlab.example.org', 'git remote'],
      ['pypi.org', 'net.allow'],
    ]);
  });

  it('reads the host of a git remote in each of its forms', () => {
    expect(gitRemoteHostOf('https://github.com/o/r.git')).toBe('github.com');
    expect(gitRemoteHostOf('git@GitHub.com:o/r.git')).toBe('github.com');
    expect(gitRemoteHostOf('ssh://git@git.example.org:2222/o/r')).toBe('git.example.org');
    expect(gitRemoteHostOf('/srv/repos/r.git')).toBeUndefined();
    expect(gitRemoteHostOf('file:///srv/r.git')).toBeUndefined();
  });

  it('takes the model API host from ANTHROPIC_BASE_URL, else the official one', () => {
    expect(modelApiHostOf(undefined)).toBe('api.anthropic.com');
    expect(modelApiHostOf('https://gateway.corp.example/v1')).toBe('gateway.corp.example');
    expect(modelApiHostOf('not a url')).toBe('api.anthropic.com');
  });

  it('edits: allow takes a host off the deny list; deny takes it off the allow list, and denies a default outright', () => {
    const base = (allow: string, deny: string) => buildAllowlist({ allow, deny }).some((entry) => formatHostEntry(entry) === 'registry.npmjs.org');
    expect(editAllowlist({ allow: 'a.com', deny: 'b.com' }, 'allow', 'B.com', () => false)).toEqual({ allow: 'a.com,b.com', deny: '' });
    expect(editAllowlist({ allow: 'a.com,b.com', deny: '' }, 'deny', 'a.com', () => false)).toEqual({ allow: 'b.com', deny: '' });
    expect(editAllowlist({ allow: '', deny: '' }, 'deny', 'registry.npmjs.org', base)).toEqual({ allow: '', deny: 'registry.npmjs.org' });
    expect(() => editAllowlist({ allow: '', deny: '' }, 'allow', 'evil host', base)).toThrow(/allowlist entry/);
  });
});

describe('addresses the proxy never connects to', () => {
  const context = { localAddresses: ['192.0.2.2', '10.239.0.1'], projectSubnets: [parseCidr('10.239.0.16/28')!] };

  it('names why', () => {
    expect(forbiddenAddressReason('127.0.0.1', context)).toBe("this machine's loopback");
    expect(forbiddenAddressReason('169.254.169.254', context)).toMatch(/link-local/);
    expect(forbiddenAddressReason('0.0.0.0', context)).toMatch(/unspecified/);
    expect(forbiddenAddressReason('239.1.1.1', context)).toMatch(/multicast/);
    expect(forbiddenAddressReason('192.0.2.2', context)).toBe('an address of this machine');
    expect(forbiddenAddressReason('10.239.0.18', context)).toBe("an address in a berth project's network");
    expect(forbiddenAddressReason('::1', context)).toBe('not an IPv4 address');
  });

  it('lets other addresses through', () => {
    expect(forbiddenAddressReason('104.16.0.35', context)).toBeUndefined();
    expect(forbiddenAddressReason('10.239.0.40', context)).toBeUndefined();
  });
});

describe('subnets', () => {
  it('gives each project network the first free /28 of the pool', () => {
    const pool = parseCidr('10.239.0.0/16')!;
    expect(nextFreeSubnet(pool, 28, [])).toEqual({ address: '10.239.0.0', prefixLength: 28 });
    expect(nextFreeSubnet(pool, 28, [parseCidr('10.239.0.0/28')!, parseCidr('10.239.0.16/28')!])).toEqual({ address: '10.239.0.32', prefixLength: 28 });
    // A wider network of someone else's that covers the start of the pool is stepped over.
    expect(nextFreeSubnet(pool, 28, [parseCidr('10.239.0.0/24')!])).toEqual({ address: '10.239.1.0', prefixLength: 28 });
    // A network that covers the whole pool leaves nothing.
    expect(nextFreeSubnet(pool, 28, [parseCidr('10.0.0.0/8')!])).toBeUndefined();
  });

  it('reads CIDR and peers, dual-stack notation included', () => {
    expect(parseCidr('172.18.0.0/16')).toEqual({ address: '172.18.0.0', prefixLength: 16 });
    expect(parseCidr('fd00::/64')).toBeUndefined();
    expect(inSubnet('::ffff:172.18.3.4', parseCidr('172.18.0.0/16')!)).toBe(true);
    expect(inSubnet('172.19.0.1', parseCidr('172.18.0.0/16')!)).toBe(false);
  });
});
