-- Roles (issue #12: any registered user could publish books). One role per account is all
-- the shop needs today: 'customer' for everyone Register creates, 'admin' for operators,
-- granted only by `user-service ensure-admin`. The token carries it as a list (`roles`) so
-- that a second role later is a claim change, not a protocol change.
ALTER TABLE users ADD COLUMN IF NOT EXISTS role VARCHAR(16) NOT NULL DEFAULT 'customer';
