-- Users who request rides, drivers who take them, and the rides themselves.
-- MySQL and MariaDB: indexed text needs a length, so text columns are VARCHARs sized
-- to the service's limits; every table is InnoDB (transactions, foreign keys).
CREATE TABLE IF NOT EXISTS users (
    id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    email       VARCHAR(254) NOT NULL,
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT users_email_unique UNIQUE (email)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS drivers (
    id             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name           VARCHAR(100) NOT NULL,
    vehicle_plate  VARCHAR(16)  NOT NULL,
    available      BOOLEAN      NOT NULL DEFAULT TRUE,
    CONSTRAINT drivers_plate_unique UNIQUE (vehicle_plate)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS rides (
    id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id       BIGINT       NOT NULL,
    driver_id     BIGINT,
    status        VARCHAR(16)  NOT NULL DEFAULT 'requested',
    pickup        VARCHAR(200) NOT NULL,
    dropoff       VARCHAR(200) NOT NULL,
    fare_cents    BIGINT       NOT NULL,
    requested_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT rides_user_fk FOREIGN KEY (user_id) REFERENCES users (id),
    CONSTRAINT rides_driver_fk FOREIGN KEY (driver_id) REFERENCES drivers (id),
    CONSTRAINT rides_status_known
        CHECK (status IN ('requested', 'assigned', 'completed', 'cancelled')),
    CONSTRAINT rides_fare_not_negative CHECK (fare_cents >= 0)
) ENGINE = InnoDB;

CREATE INDEX rides_user_idx ON rides (user_id);
