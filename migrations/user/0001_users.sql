-- user-service owns user_db alone: no other service reads this table (DESIGN.md §2).
CREATE TABLE IF NOT EXISTS users (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    -- UNIQUE is what makes "username taken" race-free: two concurrent Register calls for
    -- the same name cannot both pass a SELECT-then-INSERT check, but only one INSERT can
    -- pass this index. The loser gets a duplicate-key error, answered as ALREADY_EXISTS.
    username      VARCHAR(32)  NOT NULL,
    email         VARCHAR(254) NOT NULL DEFAULT '',
    -- The PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`: algorithm, parameters and
    -- salt travel with the hash, so parameters can be raised later without a migration.
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uk_users_username (username)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
