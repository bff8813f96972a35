// Aliases and their audit log: names, the shape of a log line, and which champion a rollback
// returns to. Pure (workflows import it); the files live in core/registry.ts.

/** The alias that production serves. */
export const CHAMPION = 'champion';
/** The version waiting for a person's approval, while it waits. */
export const CHALLENGER = 'challenger';

/** Why an alias moved: promoted, rolled back, set for approval, or cleared after a decision. */
export type AliasAction = 'promote' | 'rollback' | 'await-approval' | 'clear';

/** One line of the audit log. `version` null: the alias was removed. */
export interface AliasLogEntry {
  readonly model: string;
  readonly alias: string;
  readonly version: number | null;
  readonly previousVersion: number | null;
  readonly updatedAt: string;
  readonly action: AliasAction;
  readonly actor: string;
  readonly reason: string;
  readonly workflowId: string | null;
  readonly runId: string | null;
}

/** An alias file: the log entry that set it. */
export type AliasRecord = AliasLogEntry & { readonly version: number };

export interface AliasMove {
  readonly action: AliasAction;
  readonly actor: string;
  readonly reason: string;
  readonly workflowId?: string | null;
  readonly runId?: string | null;
}

/**
 * The version a rollback returns to: champions in the order they took over, each rollback
 * undoing the newest, so rolling back twice goes two steps back. Null when there is none.
 */
export function rollbackTarget(history: readonly AliasLogEntry[]): number | null {
  const reigns: number[] = [];
  for (const e of history) {
    if (e.alias !== CHAMPION || e.version === null) continue;
    if (e.action === 'rollback') reigns.pop();
    else if (reigns.at(-1) !== e.version) reigns.push(e.version);
  }
  return reigns.length >= 2 ? reigns[reigns.length - 2]! : null;
}

