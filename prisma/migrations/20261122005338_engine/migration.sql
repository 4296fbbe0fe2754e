-- CreateEnum
CREATE TYPE "TaskStatus" AS ENUM ('pending', 'installing', 'active', 'success', 'failed', 'updating', 'removing', 'paused');

-- CreateEnum
CREATE TYPE "OperationState" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "FirewallProtocol" AS ENUM ('tcp', 'udp', 'any');

-- CreateEnum
CREATE TYPE "FirewallAction" AS ENUM ('allow', 'deny');

-- AlterTable
ALTER TABLE "Operation" DROP COLUMN "status",
ADD COLUMN     "action" TEXT NOT NULL DEFAULT '',
ADD COLUMN     "createdResource" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "isRetry" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "milestoneStep" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "milestoneTotal" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "previousStatus" "TaskStatus",
ADD COLUMN     "resourceId" TEXT,
ADD COLUMN     "resourceType" TEXT,
ADD COLUMN     "state" "OperationState" NOT NULL DEFAULT 'queued';

-- DropEnum
DROP TYPE "OperationStatus";

-- CreateTable
CREATE TABLE "OperationMilestone" (
    "id" TEXT NOT NULL,
    "operationId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "total" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "exitCode" INTEGER,
    "outputTail" TEXT,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "OperationMilestone_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServerPackage" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT,
    "configuration" JSONB,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ServerPackage_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FirewallRule" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "port" TEXT NOT NULL,
    "protocol" "FirewallProtocol" NOT NULL DEFAULT 'tcp',
    "action" "FirewallAction" NOT NULL DEFAULT 'allow',
    "source" TEXT,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "FirewallRule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScheduledTask" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "user" TEXT NOT NULL DEFAULT 'root',
    "frequency" TEXT NOT NULL,
    "cron" TEXT NOT NULL,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ScheduledTask_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SupervisorProgram" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "directory" TEXT NOT NULL,
    "user" TEXT NOT NULL DEFAULT 'root',
    "numprocs" INTEGER NOT NULL DEFAULT 1,
    "autostart" BOOLEAN NOT NULL DEFAULT true,
    "autorestart" BOOLEAN NOT NULL DEFAULT true,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SupervisorProgram_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ChangeEvent" (
    "id" BIGSERIAL NOT NULL,
    "userId" TEXT NOT NULL,
    "serverId" TEXT,
    "entity" TEXT NOT NULL,
    "entityId" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ChangeEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "OperationMilestone_operationId_step_key" ON "OperationMilestone"("operationId", "step");

-- CreateIndex
CREATE UNIQUE INDEX "ServerPackage_serverId_type_key" ON "ServerPackage"("serverId", "type");

-- CreateIndex
CREATE INDEX "FirewallRule_serverId_idx" ON "FirewallRule"("serverId");

-- CreateIndex
CREATE INDEX "ScheduledTask_serverId_idx" ON "ScheduledTask"("serverId");

-- CreateIndex
CREATE INDEX "SupervisorProgram_serverId_idx" ON "SupervisorProgram"("serverId");

-- CreateIndex
CREATE INDEX "ChangeEvent_userId_id_idx" ON "ChangeEvent"("userId", "id");

-- CreateIndex
CREATE INDEX "ChangeEvent_serverId_id_idx" ON "ChangeEvent"("serverId", "id");

-- CreateIndex
CREATE INDEX "ChangeEvent_createdAt_idx" ON "ChangeEvent"("createdAt");

-- CreateIndex
CREATE INDEX "Operation_userId_isRetry_createdAt_idx" ON "Operation"("userId", "isRetry", "createdAt");

-- AddForeignKey
ALTER TABLE "OperationMilestone" ADD CONSTRAINT "OperationMilestone_operationId_fkey" FOREIGN KEY ("operationId") REFERENCES "Operation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServerPackage" ADD CONSTRAINT "ServerPackage_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "FirewallRule" ADD CONSTRAINT "FirewallRule_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduledTask" ADD CONSTRAINT "ScheduledTask_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SupervisorProgram" ADD CONSTRAINT "SupervisorProgram_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Change events (the seed's model observers), written by the database itself so that no
-- code path can forget them. Each row gets a monotonically increasing id; NOTIFY carries ids only.
CREATE FUNCTION brokeforge_change_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
  INSERT INTO "ChangeEvent" ("userId", "serverId", "entity", "entityId", "action")
    VALUES (v_user, v_server, entity, rec.id, lower(TG_OP))
    RETURNING id INTO v_event;
  PERFORM pg_notify('brokeforge_changes', json_build_object(
    'id', v_event, 'userId', v_user, 'serverId', v_server,
    'entity', entity, 'entityId', rec.id, 'action', lower(TG_OP))::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER "Server_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Server"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('server');
CREATE TRIGGER "Operation_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Operation"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('operation');
CREATE TRIGGER "OperationMilestone_change_event" AFTER INSERT OR UPDATE OR DELETE ON "OperationMilestone"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('operation_milestone');
CREATE TRIGGER "ServerPackage_change_event" AFTER INSERT OR UPDATE OR DELETE ON "ServerPackage"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('server_package');
CREATE TRIGGER "FirewallRule_change_event" AFTER INSERT OR UPDATE OR DELETE ON "FirewallRule"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('firewall_rule');
CREATE TRIGGER "ScheduledTask_change_event" AFTER INSERT OR UPDATE OR DELETE ON "ScheduledTask"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('scheduled_task');
CREATE TRIGGER "SupervisorProgram_change_event" AFTER INSERT OR UPDATE OR DELETE ON "SupervisorProgram"
  FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('supervisor_program');
