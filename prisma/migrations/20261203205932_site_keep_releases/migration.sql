-- AlterTable
ALTER TABLE "Site" ADD COLUMN     "keepReleases" INTEGER NOT NULL DEFAULT 14;
