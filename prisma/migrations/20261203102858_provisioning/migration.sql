-- CreateEnum
CREATE TYPE "ServerRole" AS ENUM ('app', 'web', 'database', 'worker', 'bare');

-- CreateEnum
CREATE TYPE "DatabaseEngine" AS ENUM ('mariadb', 'postgresql');

-- DropIndex
DROP INDEX "ServerPackage_serverId_type_key";

-- AlterTable
ALTER TABLE "Server" ADD COLUMN     "arch" TEXT,
ADD COLUMN     "cpuCount" INTEGER,
ADD COLUMN     "diskFreeMb" INTEGER,
ADD COLUMN     "diskTotalMb" INTEGER,
ADD COLUMN     "memoryMb" INTEGER,
ADD COLUMN     "osCodename" TEXT,
ADD COLUMN     "osId" TEXT,
ADD COLUMN     "osRelease" TEXT,
ADD COLUMN     "swapMb" INTEGER,
ADD COLUMN     "virtualization" TEXT;

-- AlterTable
ALTER TABLE "ServerPackage" ADD COLUMN     "variant" TEXT NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "ServerSecret" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "valueEncrypted" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ServerSecret_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Provisioning" (
    "id" TEXT NOT NULL,
    "serverId" TEXT NOT NULL,
    "role" "ServerRole" NOT NULL,
    "phpVersion" TEXT,
    "database" "DatabaseEngine",
    "status" "TaskStatus" NOT NULL DEFAULT 'pending',
    "errorLog" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Provisioning_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ServerSecret_serverId_name_key" ON "ServerSecret"("serverId", "name");

-- CreateIndex
CREATE UNIQUE INDEX "Provisioning_serverId_key" ON "Provisioning"("serverId");

-- CreateIndex
CREATE UNIQUE INDEX "ServerPackage_serverId_type_variant_key" ON "ServerPackage"("serverId", "type", "variant");

-- AddForeignKey
ALTER TABLE "ServerSecret" ADD CONSTRAINT "ServerSecret_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Provisioning" ADD CONSTRAINT "Provisioning_serverId_fkey" FOREIGN KEY ("serverId") REFERENCES "Server"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Change events (see 20261122012000_change_events_commit_order): the live UI follows
-- provisioning like every other resource.
CREATE CONSTRAINT TRIGGER "Provisioning_change_event" AFTER INSERT OR UPDATE OR DELETE ON "Provisioning"
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION brokeforge_change_event('provisioning');
