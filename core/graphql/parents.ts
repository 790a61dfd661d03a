/** Domain shapes that stand for GraphQL types where no single domain type does (codegen.ts mappers). */
import type { StepState } from '../runs/model.js';

/** A step as the run's steps query returns it: its state and the run it belongs to. */
export type StepExecutionParent = StepState & { runId: string };
