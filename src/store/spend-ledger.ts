/**
 * `spend.json`: dollars spent per project per day (UTC), for the daily caps.
 * Only the last week is kept. A read-modify-write per turn or request, atomic.
 */
import { readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { spendDay } from '../domain/pricing.js';
import { writing } from './write-error.js';

type Ledger = Record<string, Record<string, number>>;
const DAYS_KEPT = 7;

export class SpendLedger {
  /** Additions run one after another, so that none overwrites another's. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: string) {}

  async spentToday(project: string, now = new Date()): Promise<number> {
    await this.queue.catch(() => undefined);
    return (await this.read())[spendDay(now)]?.[project] ?? 0;
  }

  add(project: string, usd: number, now = new Date()): Promise<void> {
    if (!(usd > 0)) return Promise.resolve();
    const next = this.queue.catch(() => undefined).then(async () => {
      const ledger = await this.read();
      const day = spendDay(now);
      ledger[day] = { ...ledger[day], [project]: (ledger[day]?.[project] ?? 0) + usd };
      const kept = Object.keys(ledger).sort().slice(-DAYS_KEPT);
      const text = `${JSON.stringify(Object.fromEntries(kept.map((key) => [key, ledger[key]])), null, 2)}\n`;
      await writing(this.file, () => writeFileAtomic(this.file, text, { mode: 0o600 }));
    });
    this.queue = next;
    return next;
  }

  private async read(): Promise<Ledger> {
    try {
      return JSON.parse(await readFile(this.file, 'utf8')) as Ledger;
    } catch {
      return {};
    }
  }
}
