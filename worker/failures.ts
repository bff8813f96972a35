// Every activity's failure goes to Temporal classified (core/errors.ts classifyFailure): a
// deterministic one as a non-retryable ApplicationFailure that fails the run at once with its
// message and context, a transient one retryable under the workflow's retry policy. Failures
// Temporal made itself (cancellation, timeouts) pass through untouched.
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { classifyFailure } from '../core/errors.js';

export function toApplicationFailure(err: unknown): unknown {
  if (err instanceof TemporalFailure) return err;
  const failure = classifyFailure(err);
  if (!failure.known) return err; // the SDK reports it as it is, retryable
  const converted = ApplicationFailure.create({
    type: failure.type,
    message: failure.message,
    nonRetryable: failure.nonRetryable,
    details: Object.keys(failure.context).length ? [failure.context] : [],
  });
  if (err instanceof Error && err.stack) converted.stack = err.stack;
  return converted;
}

const classifying: ActivityInboundCallsInterceptor = {
  async execute(input, next) {
    try {
      return await next(input);
    } catch (err) {
      throw toApplicationFailure(err);
    }
  },
};

export const classifyActivityFailures: ActivityInterceptorsFactory = () => ({ inbound: classifying });
