// What EvaluateAndPromoteWorkflow takes, measures, decides and answers: shared by the
// workflow, its activities and the API. Pure (workflows import it): no Node built-ins.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { PairedInterval } from '../ml/bootstrap.js';
import type { Metrics } from '../ml/metrics.js';
import type { GateDecision } from './gate.js';
import type { ApprovalPolicy } from './spec.js';

/**
 * One promotion workflow per model at a time: every alias move of a model runs under this id,
 * so the alias and its log can never be changed by two runs at once.
 */
export function promotionWorkflowId(model: string): string {
  return `promote-${model}`;
}

export interface EvaluateAndPromoteInput {
  readonly model: string;
  readonly version: number;
  /** Who asked (recorded on the alias move when no approver decides). */
  readonly actor?: string;
  readonly reason?: string;
}

export interface RollbackInput {
  readonly model: string;
  readonly actor: string;
  readonly reason: string;
}

export interface LatencyReport {
  /** One-row runs timed after a warm-up, each on a different holdout row. */
  readonly runs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** Everything one evaluation measured, all on the same holdout rows. */
export interface EvaluationReport {
  readonly model: string;
  readonly version: number;
  readonly evaluatedAt: string;
  readonly holdout: { readonly partitions: readonly string[]; readonly rows: number };
  readonly candidate: { readonly metrics: Metrics; readonly calibrationError: number | null; readonly latency: LatencyReport };
  readonly champion: {
    readonly version: number;
    readonly metrics: Metrics;
    readonly calibrationError: number | null;
    /** Holdout partitions the champion trained or early-stopped on: the comparison favours it. */
    readonly sawHoldout: readonly string[];
    /** On a small holdout: the paired-bootstrap interval of the candidate's gain (better direction). */
    readonly gain?: PairedInterval;
  } | null;
  /** The naive model (training base rate, class frequencies or mean) on the same rows. */
  readonly baseline: Metrics;
  readonly gate: GateDecision;
}

export type PromotionOutcome = 'promoted' | 'failed-gate' | 'rejected' | 'expired' | 'already-champion';

/** A person's answer, sent through the `decide` update (POST /models/:name/versions/:v/approve|reject). */
export interface ApprovalDecision {
  readonly version: number;
  readonly approve: boolean;
  readonly actor: string;
  readonly reason: string;
}

/** What an evaluation left on the version's card: the report, then the outcome. */
export interface EvaluationRecord {
  readonly workflowId: string;
  readonly runId: string;
  readonly report: EvaluationReport;
  readonly outcome: PromotionOutcome | 'awaiting-approval' | 'cancelled';
  readonly decision?: ApprovalDecision & { readonly at: string };
  readonly approval?: { readonly required: boolean; readonly deadline: string };
}

/** The `status` query: what the promotion is doing, and what it waits for. */
export interface PromotionStatus {
  readonly model: string;
  readonly version: number;
  readonly stage: 'evaluating' | 'awaiting-approval' | 'promoting' | 'done';
  /** The champion the version is compared with (null: none); absent until the evaluation has read it. */
  readonly champion?: number | null;
  readonly gate?: GateDecision;
  readonly approval?: { readonly deadline: string; readonly approve: string; readonly reject: string };
  readonly outcome?: PromotionOutcome;
}

export interface EvaluateAndPromoteResult {
  readonly model: string;
  readonly version: number;
  readonly outcome: PromotionOutcome;
  /** Champion after the workflow, and before it. */
  readonly champion: number | null;
  readonly previousChampion: number | null;
  readonly gate: GateDecision;
  readonly decision?: ApprovalDecision & { readonly at: string };
  readonly report: EvaluationReport;
}

export interface EvaluationResult {
  readonly report: EvaluationReport;
  readonly approval: ApprovalPolicy;
}

export const decideUpdate = defineUpdate<PromotionStatus, [ApprovalDecision]>('decide');
export const statusQuery = defineQuery<PromotionStatus>('status');
