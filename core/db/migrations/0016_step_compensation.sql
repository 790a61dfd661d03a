-- A succeeded step's compensation (its `compensate` action), once its run has failed for
-- good: { status, order, attempts, output, error, queuedAt, startedAt, finishedAt }. Null
-- for every step of a run that did not need undoing. Kept with the step it undoes, so the
-- run's one row lock still serialises every change to the run.
alter table step_executions add column compensation jsonb;
