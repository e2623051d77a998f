import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Debian's folder of locally added CAs, e.g. of a TLS-inspecting proxy in front of the registries. */
export const LOCAL_CA_DIR = '/usr/local/share/ca-certificates';

/**
 * The PEM certificates the host trusts beyond Debian's defaults (those under
 * its local CA folder). An image build that fetches packages behind such a
 * proxy needs them; they are public, not secrets. Joined as `cat *.crt` would
 * join them, so that a build by hand with that argument shares the cache.
 */
export async function localCaCertificates(dir = LOCAL_CA_DIR): Promise<string | undefined> {
  const files = (await readdir(dir, { recursive: true }).catch(() => [])).filter((file) => file.endsWith('.crt')).sort();
  if (files.length === 0) return undefined;
  const pems = await Promise.all(files.map((file) => readFile(path.join(dir, file), 'utf8')));
  return pems.join('').trimEnd();
}
