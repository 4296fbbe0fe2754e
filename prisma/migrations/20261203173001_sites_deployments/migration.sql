-- CreateTable
CREATE TABLE "Site" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "domain" TEXT NOT NULL,
    "aliases" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "phpVersion" TEXT NOT NULL,
    "webDirectory" TEXT NOT NULL DEFAULT 'public',
    "repository" TEXT,
    "branch" TEXT NOT NULL DEFAULT 'main',
    "deployScript" TEXT NOT NULL,
    "sharedPaths" TEXT[] DEFAULT ARRAY['storage', '.env']::TEXT[],
    "healthCheckPath" TEXT,
    "envEncrypted" TEXT,
    "envVersion" INTEGER NOT NULL DEFAULT 0,
    "envWrittenVersion" INTEGER NOT NULL DEFAULT 0,
    "deployTokenHash" TEXT NOT NULL,
    "deployTokenEncrypted" TEXT NOT NULL,
    "webhookSecretEncrypted" TEXT,
    "activeDeploymentId" TEXT,
    "lastDeployedAt" TIMESTAMP(3),
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Site_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Deployment" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "siteId" TEXT,
    "domain" TEXT NOT NULL,
    "release" TEXT NOT NULL,
    "releasePath" TEXT,
    "branch" TEXT NOT NULL,
    "commitSha" TEXT,
    "commitMessage" TEXT,
    "trigger" TEXT NOT NULL DEFAULT 'ui',
    "userId" TEXT,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "rolledBack" BOOLEAN NOT NULL DEFAULT false,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "durationMs" INTEGER,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Deployment_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "SiteCommand" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "siteId" TEXT NOT NULL,
    "command" TEXT NOT NULL,
    "timeoutSeconds" INTEGER NOT NULL DEFAULT 600,
    "userId" TEXT,
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "exitCode" INTEGER,
    "stdout" TEXT,
    "stderr" TEXT,
    "durationMs" INTEGER,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SiteCommand_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OperationOutput" (
    "id" BIGSERIAL NOT NULL,
    "operationId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "run" INTEGER NOT NULL DEFAULT 1,
    "stream" TEXT NOT NULL,
    "line" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OperationOutput_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Site_deployTokenHash_key" ON "Site"("deployTokenHash");

-- CreateIndex
CREATE UNIQUE INDEX "Site_serverId_domain_key" ON "Site"("serverId", "domain");

-- CreateIndex
CREATE INDEX "Deployment_siteId_createdAt_idx" ON "Deployment"("siteId", "createdAt");

-- CreateIndex
CREATE INDEX "Deployment_serverId_idx" ON "Deployment"("serverId");

-- CreateIndex
CREATE UNIQUE INDEX "Deployment_siteId_release_key" ON "Deployment"("siteId", "release");

-- CreateIndex
CREATE INDEX "SiteCommand_siteId_createdAt_idx" ON "SiteCommand"("siteId", "createdAt");

-- CreateIndex
CREATE INDEX "SiteCommand_serverId_idx" ON "SiteCommand"("serverId");

-- CreateIndex
CREATE INDEX "OperationOutput_operationId_id_idx" ON "OperationOutput"("operationId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "OperationOutput_operationId_step_run_stream_line_key" ON "OperationOutput"("operationId", "step", "run", "stream", "line");

-- AddForeignKey
ALTER TABLE "Site" ADD CONSTRAINT "Site_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Deployment" ADD CONSTRAINT "Deployment_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Deployment" ADD CONSTRAINT "Deployment_siteId_fkey" FOREIGN KEY ("siteId") REFERENCES "Site"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Deployment" ADD CONSTRAINT "Deployment_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SiteCommand" ADD CONSTRAINT "SiteCommand_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SiteCommand" ADD CONSTRAINT "SiteCommand_siteId_fkey" FOREIGN KEY ("siteId") REFERENCES "Site"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "SiteCommand" ADD CONSTRAINT "SiteCommand_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OperationOutput" ADD CONSTRAINT "OperationOutput_operationId_fkey" FOREIGN KEY ("operationId") REFERENCES "Operation"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Change events (see 20261122012000_change_events_commit_order): the live UI follows sites,
-- deployments and site commands like every other resource. OperationOutput has no trigger: one
-- event per printed line would flood ChangeEvent; its rows carry their own ordered ids and are
-- announced on their own channel (activities/output.ts).
CREATE CONSTRAINT TRIGGER "Site_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Site"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('site');
CREATE CONSTRAINT TRIGGER "Deployment_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Deployment"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('deployment');
CREATE CONSTRAINT TRIGGER "SiteCommand_change_event" AFTER INSERT OR UPDATE OR DELETE ON "SiteCommand"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('site_command');
