// Monitoring reports in the store's reports area: `<model>/<report id>/{report.html, report.json}`.
// The JSON is written last: a report is complete, and listed, once its JSON is there.
import type { Paths } from '../core/config.js';
import { isValidName } from '../core/spec.js';
import { openStorage } from './index.js';
import { joinKey, type ObjectStore } from './object-store.js';

/** Report ids are made by MonitorModelWorkflow (time and run); anything else is refused. */
export const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export type ReportFile = 'report.json' | 'report.html';

export class Reports {
  constructor(readonly store: ObjectStore) {}

  /** A report file's key; ids and names are checked so that none can leave the reports area. */
  key(model: string, reportId: string, file: ReportFile): string {
    if (!REPORT_ID.test(reportId) || reportId.includes('..')) throw new Error(`invalid report id '${reportId}'`);
    if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
    return joinKey(model, reportId, file);
  }

  /** Store a report: the page, then the JSON that marks it complete. Returns where it is. */
  async write(model: string, reportId: string, html: string, json: string): Promise<string> {
    await this.store.put(this.key(model, reportId, 'report.html'), html);
    await this.store.put(this.key(model, reportId, 'report.json'), json);
    return `${this.store.location}/${joinKey(model, reportId)}`;
  }

  /** A report file's text, or undefined when there is no such (complete) report. */
  async read(model: string, reportId: string, file: ReportFile): Promise<string | undefined> {
    if (file === 'report.html' && !(await this.store.head(this.key(model, reportId, 'report.json')))) return undefined;
    const obj = await this.store.get(this.key(model, reportId, file));
    return obj ? new TextDecoder().decode(obj.body) : undefined;
  }

  /** The ids of the model's complete reports, newest first. */
  async ids(model: string): Promise<string[]> {
    if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
    const prefix = `${model}/`;
    return (await this.store.list(prefix))
      .map((o) => o.key.slice(prefix.length).split('/'))
      .filter(([id, file]) => id !== undefined && REPORT_ID.test(id) && file === 'report.json')
      .map(([id]) => id!)
      .sort()
      .reverse();
  }
}

const opened = new WeakMap<Paths, Reports>();

export function openReports(paths: Paths): Reports {
  let found = opened.get(paths);
  if (!found) opened.set(paths, (found = new Reports(openStorage(paths).reports)));
  return found;
}
