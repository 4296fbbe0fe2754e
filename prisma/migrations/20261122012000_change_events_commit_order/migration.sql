-- Change event ids must follow commit order, or a live client that resumes "after id N" could
-- miss an event whose transaction took id N-1 but committed after N was delivered. So the
-- event is written by a constraint trigger deferred to commit time, under a transaction-level
-- advisory lock: commits of tracked rows take their ids (and send NOTIFY) one at a time, and the
-- lock is held only for the final moments of each commit.
CREATE OR REPLACE FUNCTION brokeforge_change_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  rec record;
  entity text := TG_ARGV[0];
  v_server text;
  v_user text;
  v_event bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN rec := OLD; ELSE rec := NEW; END IF;
  IF entity = 'server' THEN
    v_server := rec.id;
    v_user := rec."userId";
  ELSIF entity = 'operation_milestone' THEN
    SELECT o."serverId" INTO v_server FROM "Operation" o WHERE o.id = rec."operationId";
  ELSE
    v_server := rec."serverId";
  END IF;
  IF v_user IS NULL THEN
    SELECT s."userId" INTO v_user FROM "Server" s WHERE s.id = v_server;
  END IF;
  -- Rows deleted along with their server: the server's own delete event covers them.
  IF v_user IS NULL THEN RETURN NULL; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('brokeforge_change_events'));
  INSERT INTO "ChangeEvent" ("userId", "serverId", "entity", "entityId", "action")
    VALUES (v_user, v_server, entity, rec.id, lower(TG_OP))
    RETURNING id INTO v_event;
  PERFORM pg_notify('brokeforge_changes', json_build_object(
    'id', v_event, 'userId', v_user, 'serverId', v_server,
    'entity', entity, 'entityId', rec.id, 'action', lower(TG_OP))::text);
  RETURN NULL;
END;
$$;

DROP TRIGGER "Server_change_event" ON "Server";
DROP TRIGGER "Operation_change_event" ON "Operation";
DROP TRIGGER "OperationMilestone_change_event" ON "OperationMilestone";
DROP TRIGGER "ServerPackage_change_event" ON "ServerPackage";
DROP TRIGGER "FirewallRule_change_event" ON "FirewallRule";
DROP TRIGGER "ScheduledTask_change_event" ON "ScheduledTask";
DROP TRIGGER "SupervisorProgram_change_event" ON "SupervisorProgram";

CREATE CONSTRAINT TRIGGER "Server_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Server"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('server');
CREATE CONSTRAINT TRIGGER "Operation_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Operation"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('operation');
CREATE CONSTRAINT TRIGGER "OperationMilestone_change_event" AFTER INSERT OR UPDATE OR DELETE ON "OperationMilestone"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('operation_milestone');
CREATE CONSTRAINT TRIGGER "ServerPackage_change_event" AFTER INSERT OR UPDATE OR DELETE ON "ServerPackage"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('server_package');
CREATE CONSTRAINT TRIGGER "FirewallRule_change_event" AFTER INSERT OR UPDATE OR DELETE ON "FirewallRule"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('firewall_rule');
CREATE CONSTRAINT TRIGGER "ScheduledTask_change_event" AFTER INSERT OR UPDATE OR DELETE ON "ScheduledTask"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('scheduled_task');
CREATE CONSTRAINT TRIGGER "SupervisorProgram_change_event" AFTER INSERT OR UPDATE OR DELETE ON "SupervisorProgram"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('supervisor_program');
