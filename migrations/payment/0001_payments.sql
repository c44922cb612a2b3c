-- payment-service's database (payment_db). Three tables, one per thing that must survive a
-- restart: the payments, the mock gateway's pending confirmations, and the outbox of what
-- order-service still has to hear.

-- Deviations from the course's table, on purpose:
--   * user_id: who paid, for owner-only queries (copied from the order at creation);
--   * live_order_id: the order id while the payment is Pending or Succeeded, NULL once it
--     failed or was refunded. UNIQUE, so "one live payment per order" is the index's rule,
--     not a SELECT-then-INSERT two concurrent clicks would both pass; a failed payment
--     frees the order for a new attempt.
--   * status 4 = refunded (succeeded for an order that was no longer payable);
--   * reason: why it failed or was refunded.
CREATE TABLE payments (
    id            BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    payment_no    VARCHAR(32) NOT NULL COMMENT '支付单号',
    order_id      BIGINT UNSIGNED NOT NULL COMMENT '订单ID',
    user_id       BIGINT UNSIGNED NOT NULL COMMENT '付款用户',
    amount        BIGINT NOT NULL COMMENT '支付金额（分）',
    status        TINYINT NOT NULL DEFAULT 1 COMMENT '1待支付 2成功 3失败 4已退款',
    live_order_id BIGINT UNSIGNED NULL COMMENT '待支付/成功时 = order_id，否则 NULL',
    reason        VARCHAR(200) NOT NULL DEFAULT '',
    created_at    DATETIME(3) NOT NULL,
    updated_at    DATETIME(3) NOT NULL,
    UNIQUE KEY uk_payment_no (payment_no),
    UNIQUE KEY uk_live_order (live_order_id),
    INDEX idx_order_id (order_id)
) ENGINE=InnoDB COMMENT='支付表';

-- The mock gateway's answer, due at due_at: a row, not a sleeping goroutine, so a restart in
-- the 3 seconds loses nothing. `succeed` is decided at creation (the lab's failure rate or a
-- per-payment flag), so a restarted worker gives the same answer the first one would have.
CREATE TABLE gateway_jobs (
    payment_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    due_at     DATETIME(3) NOT NULL,
    succeed    BOOLEAN NOT NULL,
    INDEX idx_gateway_due (due_at)
) ENGINE=InnoDB COMMENT='模拟支付网关的待回调任务';

-- The transactional outbox: written in the same transaction that marks a payment
-- succeeded, so "paid" and "tell order-service" cannot come apart. The relay delivers each
-- row with retries (next_attempt_at backs off) until order-service accepts it, then sets
-- delivered_at. Delivery is at-least-once; order-service's Paid transition is idempotent,
-- which makes the effect exactly-once.
CREATE TABLE outbox (
    id              BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    payment_id      BIGINT UNSIGNED NOT NULL,
    order_id        BIGINT UNSIGNED NOT NULL,
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(3) NOT NULL,
    delivered_at    DATETIME(3) NULL,
    last_error      VARCHAR(255) NOT NULL DEFAULT '',
    created_at      DATETIME(3) NOT NULL,
    UNIQUE KEY uk_outbox_payment (payment_id),
    INDEX idx_outbox_due (delivered_at, next_attempt_at)
) ENGINE=InnoDB COMMENT='待通知订单服务的消息（发件箱）';
