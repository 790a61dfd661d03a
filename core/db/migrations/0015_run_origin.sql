-- How a run was started, for runs not started by a token through startRun: a webhook
-- delivery ({"kind":"WEBHOOK","triggerId":...,"deliveryId":...}) or a schedule slot
-- ({"kind":"SCHEDULE","scheduleId":...,"slot":...}). Null: started through the API by
-- runs.created_by.
alter table runs add column origin jsonb;
