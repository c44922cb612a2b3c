-- order-service's database (order_db). Services never read each other's tables: prices
-- come from catalog-service over gRPC and are copied into order_items (the snapshot).

-- An order being created: written (and committed) BEFORE inventory's LockStock, deleted in
-- the same transaction that inserts the order. Its AUTO_INCREMENT id becomes the order id,
-- so the id exists before any stock is touched, and inventory keys the lock by it.
-- A row still here after `stale_after` means the creation died between LockStock and the
-- commit (a crash, a kill -9, a lost reply): the sweeper releases that order id's lock
-- (idempotent in inventory) and deletes the row. That is what guarantees "no order, no lock".
-- (user_id, idempotency_key) is UNIQUE: the key is claimed here, before any side effect, by
-- the index — never by a SELECT-then-INSERT that two concurrent retries would both pass.
CREATE TABLE order_intents (
    id              BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY COMMENT '= orders.id',
    user_id         BIGINT UNSIGNED NOT NULL,
    idempotency_key VARCHAR(64) NULL COMMENT 'NULL: no key, every call is a new order',
    request_body    VARCHAR(2048) NOT NULL COMMENT 'canonical items, compared on retries',
    created_at      DATETIME(3) NOT NULL,
    UNIQUE KEY uk_intent_user_key (user_id, idempotency_key),
    INDEX idx_intent_created (created_at)
) ENGINE=InnoDB COMMENT='下单意图（LockStock 之前写入，崩溃后由清理任务释放库存）';

-- Deviations from the course's table, on purpose:
--   * id is not AUTO_INCREMENT here: it is the intent's id, fixed before LockStock;
--   * idempotency_key + request_body: a retry returns this order; another body is refused;
--   * expires_at: when an unpaid order is cancelled (the sweeper's index is (status, expires_at));
--   * stock_action: stock work this order still owes inventory (0 none, 1 release the lock,
--     2 confirm the lock as sold, 3 return sold units). Set in the same transaction as the
--     status change and cleared once inventory has acknowledged it, so a crash between the
--     two leaves a row the sweeper finishes — the transactional-outbox idea in one column.
CREATE TABLE orders (
    id              BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    order_no        VARCHAR(32) NOT NULL COMMENT '订单号',
    user_id         BIGINT UNSIGNED NOT NULL COMMENT '用户ID',
    total           BIGINT NOT NULL COMMENT '订单总金额（分）',
    status          TINYINT NOT NULL DEFAULT 1 COMMENT '1待支付 2已支付 3已发货 4已完成 5已取消',
    idempotency_key VARCHAR(64) NULL,
    request_body    VARCHAR(2048) NOT NULL,
    cancel_reason   VARCHAR(200) NOT NULL DEFAULT '',
    stock_action    TINYINT NOT NULL DEFAULT 0 COMMENT '待向库存服务执行的动作',
    created_at      DATETIME(3) NOT NULL,
    updated_at      DATETIME(3) NOT NULL,
    expires_at      DATETIME(3) NOT NULL COMMENT '未支付订单的过期时间',
    UNIQUE KEY uk_order_no (order_no),
    UNIQUE KEY uk_order_user_key (user_id, idempotency_key),
    -- ListOrders: the caller's orders, newest first — served by this index without a sort.
    INDEX idx_user_created (user_id, created_at, id),
    INDEX idx_status_expires (status, expires_at),
    INDEX idx_stock_action (stock_action)
) ENGINE=InnoDB COMMENT='订单表';

-- title and price are snapshots taken from catalog-service when the order was created:
-- a later price change must not change what this order costs.
CREATE TABLE order_items (
    id       BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    order_id BIGINT UNSIGNED NOT NULL COMMENT '订单ID',
    book_id  BIGINT UNSIGNED NOT NULL COMMENT '图书ID',
    title    VARCHAR(255) NOT NULL COMMENT '下单时的书名',
    quantity INT NOT NULL COMMENT '购买数量',
    price    BIGINT NOT NULL COMMENT '下单时的单价（分）',
    INDEX idx_order_id (order_id)
) ENGINE=InnoDB COMMENT='订单明细表';
