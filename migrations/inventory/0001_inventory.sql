-- inventory-service's durable ledger (database inventory_db). Redis holds the live
-- counters; these tables are what survives a lost Redis and what an auditor reads.

-- One row per book: the counters as of the last change the syncer applied.
-- Deviation from the course's table, on purpose:
--   * sold_stock is added, so that "available + locked + sold = total" can be checked
--     here too (the course's total = stock + locked forgets what was sold);
--   * counters are BIGINT: total_stock only grows with every restock, and an INT that
--     overflows after years of restocks is a bug nobody will be around to fix.
CREATE TABLE inventory (
    book_id      BIGINT UNSIGNED NOT NULL PRIMARY KEY COMMENT '图书ID',
    stock        BIGINT NOT NULL DEFAULT 0 COMMENT '可用库存',
    locked_stock BIGINT NOT NULL DEFAULT 0 COMMENT '锁定库存（待支付订单）',
    sold_stock   BIGINT NOT NULL DEFAULT 0 COMMENT '已售库存',
    total_stock  BIGINT NOT NULL DEFAULT 0 COMMENT '总库存 = 可用 + 锁定 + 已售',
    created_at   DATETIME(3) NOT NULL,
    updated_at   DATETIME(3) NOT NULL,
    INDEX idx_stock (stock)
) ENGINE=InnoDB COMMENT='库存表';

-- The audit log: one row per change of one book. type: 1 lock, 2 release, 3 decrement
-- (confirm or direct), 4 increment.
-- (ev_ms, ev_seq) is the Redis stream id of the change: UNIQUE, so applying the same
-- change twice is impossible rather than merely unlikely. d_* are the exact deltas of the
-- four counters, so the ledger can be replayed and reconciled without guessing.
-- request_id is IncrStock's idempotency key (UNIQUE; NULL for the other types), kept
-- here so that a rebuilt Redis still refuses a replayed restock.
CREATE TABLE inventory_logs (
    id         BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    ev_ms      BIGINT UNSIGNED NOT NULL,
    ev_seq     BIGINT UNSIGNED NOT NULL,
    book_id    BIGINT UNSIGNED NOT NULL,
    quantity   INT NOT NULL COMMENT '变化数量（正数=增加，负数=减少）',
    type       TINYINT NOT NULL COMMENT '类型：1-锁定 2-释放 3-扣减 4-增加',
    order_id   BIGINT UNSIGNED NULL COMMENT '关联订单ID',
    request_id VARCHAR(64) NULL,
    remark     VARCHAR(255) NULL COMMENT '备注',
    d_avail    INT NOT NULL,
    d_locked   INT NOT NULL,
    d_sold     INT NOT NULL,
    d_total    INT NOT NULL,
    created_at DATETIME(3) NOT NULL,
    UNIQUE KEY uk_event (ev_ms, ev_seq),
    UNIQUE KEY uk_request (request_id),
    INDEX idx_book_id (book_id, id),
    INDEX idx_created_at (created_at)
) ENGINE=InnoDB COMMENT='库存变更日志';

-- What idempotence needs after Redis is lost: per order and book, what was reserved and
-- where it stands (state 1 locked, 2 released, 3 confirmed, 4 sold directly). kind tells
-- a LockStock reservation (1) from a direct DecrStock sale (2): the two are idempotent per
-- order id separately. On rebuild, open reservations go back to Redis (and to the
-- sweeper's queue); settled ones come back as records, so a late retry is still a no-op.
CREATE TABLE inventory_reservations (
    kind       TINYINT NOT NULL,
    order_id   BIGINT UNSIGNED NOT NULL,
    book_id    BIGINT UNSIGNED NOT NULL,
    quantity   INT NOT NULL,
    state      TINYINT NOT NULL,
    locked_at  DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    PRIMARY KEY (kind, order_id, book_id),
    INDEX idx_state (state)
) ENGINE=InnoDB COMMENT='订单库存预留（幂等与重建用）';

-- Where the syncer stands in the Redis stream: the id of the last change applied. It is
-- updated in the same transaction as the rows it covers, so "applied" and "remembered as
-- applied" cannot disagree after a crash.
CREATE TABLE inventory_sync_cursor (
    id         TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    last_ms    BIGINT UNSIGNED NOT NULL,
    last_seq   BIGINT UNSIGNED NOT NULL,
    updated_at DATETIME(3) NOT NULL
) ENGINE=InnoDB COMMENT='同步进度';

INSERT INTO inventory_sync_cursor (id, last_ms, last_seq, updated_at) VALUES (1, 0, 0, NOW(3));
