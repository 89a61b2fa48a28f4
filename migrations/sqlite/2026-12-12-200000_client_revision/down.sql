ALTER TABLE clients DROP COLUMN revision;
