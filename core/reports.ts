// Where monitoring reports live: <reports>/<model>/<report id>/{report.json, report.html}.
import path from 'node:path';
import type { Paths } from './config.js';
import { isValidName } from './spec.js';

/** Report ids are made by MonitorModelWorkflow (time and run); anything else is refused. */
export const REPORT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Where one report lives; ids are checked so that no name can leave the reports folder. */
export function reportDir(paths: Paths, model: string, reportId: string): string {
  if (!REPORT_ID.test(reportId) || reportId.includes('..')) throw new Error(`invalid report id '${reportId}'`);
  if (!isValidName(model)) throw new Error(`invalid model name '${model}'`);
  return path.join(paths.reportsDir, model, reportId);
}
