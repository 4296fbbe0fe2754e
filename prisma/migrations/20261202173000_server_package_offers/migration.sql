-- AlterTable
ALTER TABLE "Server" ADD COLUMN     "packageOffers" JSONB;
