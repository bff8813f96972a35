// The boundaries of the layout, held by the linter rather than by comments: processes (api/,
// worker/, bin/) -> runs/ -> workflows/ and activities/ -> storage/ -> core/, tasks/ -> ml/.
// Nothing below reaches up; workflow code stays deterministic; nothing outside tasks/ branches on a task's name.
import tseslint from 'typescript-eslint';

const pattern = (group, message) => ({ group, message });

/** `x.task === 'binary'` and the like: what differs by task belongs to the task's module. */
const taskBranch = {
  selector: "BinaryExpression[operator=/^[!=]==?$/]:matches([left.property.name='task'][right.type='Literal'], [right.property.name='task'][left.type='Literal'])",
  message: 'Ask the task object (tasks/index.ts: taskKind, modelTask) instead of comparing a task name.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.state/**', '.tools/**', 'dist/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser },
    // Disable directives for rules not enabled here (the editor's own sets) are left alone.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: { 'no-restricted-syntax': ['error', taskBranch] },
  },
  {
    files: ['tasks/**/*.ts', 'test/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['node:*', 'fs', 'path', 'os', 'crypto', 'child_process', 'worker_threads'], 'Workflow code runs in the deterministic sandbox: no Node built-ins.'),
            pattern(['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@duckdb/*', 'onnxruntime-node', 'hono', '@hono/*'], 'Workflow code may use @temporalio/workflow and @temporalio/common only.'),
            { group: ['../activities/*'], allowTypeImports: true, message: 'Workflows import activities as types (proxyActivities<Activities>).' },
            pattern(['../api/*', '../worker/*', '../bin/*', '../runs/*'], 'Workflows sit below the processes and runs/.'),
            pattern(['../storage/*'], 'Workflow code touches no storage: its activities do.'),
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [pattern(['../api/*', '../worker/*', '../bin/*', '../runs/*', '../workflows/*'], 'Activities sit below workflows, runs/ and the processes.')] },
      ],
    },
  },
  {
    files: ['core/**/*.ts', 'tasks/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['../activities/*', '../api/*', '../worker/*', '../bin/*', '../runs/*', '../workflows/*'], 'core/ and tasks/ sit below activities, workflows, runs/ and the processes.'),
            pattern(['../storage/*'], 'core/ and tasks/ sit below storage/: what persists state belongs in storage/.'),
            pattern(['@aws-sdk/*'], 'Only storage/ talks to the object store.'),
          ],
        },
      ],
    },
  },
  {
    files: ['ml/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            pattern(['../core/*', '../../core/*', '../tasks/*', '../../tasks/*', '../activities/*', '../api/*', '../workflows/*', '../runs/*'], 'ml/ is pure: it imports nothing of the product.'),
            pattern(['@temporalio/*', '@duckdb/*', 'hono', '@hono/*', 'onnxruntime-node'], 'ml/ is pure: no Temporal, DuckDB, HTTP or onnxruntime.'),
          ],
        },
      ],
    },
  },
  {
    files: ['storage/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [pattern(['../activities/*', '../api/*', '../worker/*', '../bin/*', '../runs/*', '../workflows/*'], 'storage/ sits below activities, workflows, runs/ and the processes.')] },
      ],
    },
  },
  {
    files: ['runs/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [pattern(['../api/*', '../worker/*', '../bin/*', '../activities/*'], 'runs/ starts workflows; it sits below the processes and beside nothing that runs activities.')] },
      ],
    },
  },
  {
    // The typed client is what other programs import: the generated types and openapi-fetch, nothing of the engine.
    files: ['client/**/*.ts'],
    ignores: ['client/generate.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [pattern(['../*', '!../client'], 'client/ stands alone: callers get it without the engine.')] },
      ],
    },
  },
  {
    // The CLI speaks HTTP through the typed client, as any other caller would.
    files: ['cli/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [pattern(['../*', '!../client'], 'cli/ goes through the API with client/, never into the engine.')] },
      ],
    },
  },
);
