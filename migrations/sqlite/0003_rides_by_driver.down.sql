DROP INDEX IF EXISTS rides_driver_idx;
