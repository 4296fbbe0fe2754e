-- AlterTable
ALTER TABLE "Operation" ADD COLUMN     "title" TEXT NOT NULL DEFAULT '';
