-- The dispatcher looks for rides a driver still holds (NOT EXISTS by driver).
CREATE INDEX IF NOT EXISTS rides_driver_idx ON rides (driver_id);
