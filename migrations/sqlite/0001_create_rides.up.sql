-- Users who request rides, drivers who take them, and the rides themselves.
CREATE TABLE IF NOT EXISTS users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    email       TEXT    NOT NULL CONSTRAINT users_email_unique UNIQUE,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE IF NOT EXISTS drivers (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    name           TEXT    NOT NULL,
    vehicle_plate  TEXT    NOT NULL CONSTRAINT drivers_plate_unique UNIQUE,
    available      BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE IF NOT EXISTS rides (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       INTEGER NOT NULL CONSTRAINT rides_user_fk REFERENCES users (id),
    driver_id     INTEGER          CONSTRAINT rides_driver_fk REFERENCES drivers (id),
    status        TEXT    NOT NULL DEFAULT 'requested'
                  CONSTRAINT rides_status_known
                  CHECK (status IN ('requested', 'assigned', 'completed', 'cancelled')),
    pickup        TEXT    NOT NULL,
    dropoff       TEXT    NOT NULL,
    fare_cents    INTEGER NOT NULL CONSTRAINT rides_fare_not_negative CHECK (fare_cents >= 0),
    requested_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX IF NOT EXISTS rides_user_idx ON rides (user_id);
