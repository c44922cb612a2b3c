-- catalog-service owns catalog_db alone (DESIGN.md §2). Money is integer cents (分).
CREATE TABLE IF NOT EXISTS books (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    title        VARCHAR(200)  NOT NULL,
    author       VARCHAR(100)  NOT NULL,
    -- NULL when unknown: a UNIQUE index allows many NULLs but only one of each real ISBN,
    -- which is also what makes the seed import idempotent (INSERT IGNORE skips repeats).
    isbn         VARCHAR(13)   NULL,
    publisher    VARCHAR(100)  NOT NULL DEFAULT '',
    -- DO: integer cents. DON'T: FLOAT/DOUBLE — 0.1 + 0.2 != 0.3 in binary floating point,
    -- and a shop that loses a cent per order loses real money at scale.
    price        BIGINT        NOT NULL,
    -- The figure the catalogue shows; inventory-service owns the real ledger and pushes
    -- this number with UpdateStock.
    stock        INT           NOT NULL DEFAULT 0,
    description  VARCHAR(2000) NOT NULL DEFAULT '',
    -- Who published it (a user-service id). No foreign key: users live in another
    -- service's database, and cross-database constraints would couple the two schemas.
    published_by BIGINT UNSIGNED NULL,
    created_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at   DATETIME(3)   NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uk_books_isbn (isbn),
    -- The course's three indexes, one per sort key of ListBooks. InnoDB appends the primary
    -- key to every secondary index, so each is really (column, id): exactly the
    -- `ORDER BY column, id` tie-break the service uses, and the page is read in index order
    -- without a filesort.
    KEY idx_books_title (title),
    KEY idx_books_price (price),
    KEY idx_books_created_at (created_at),
    CONSTRAINT chk_books_price CHECK (price > 0),
    CONSTRAINT chk_books_stock CHECK (stock >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
