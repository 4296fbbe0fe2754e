-- AlterTable
ALTER TABLE "Server" ADD COLUMN     "variantOffers" JSONB;
